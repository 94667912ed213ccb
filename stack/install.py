"""Install what the stack needs, idempotently: Debian packages, Maven jars, Go binaries, venvs.

Downloads land in ``settings.tools_dir`` (~/.cache/studyhub by default), keyed by version and by
a hash of the file that describes them, so a second clone reuses them and a changed POM refetches.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from core.settings import REPO_ROOT
from stack.errors import StackError
from stack.process import run

log = logging.getLogger(__name__)

_apt_updated = False


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()[:16]


def which(binary: str) -> str | None:
    # Debian puts daemons in /usr/sbin, which a non-root PATH may lack.
    return shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/local/sbin:/sbin")


def ensure_debian_packages(binaries: dict[str, str]) -> None:
    """Install the Debian package of every binary that is missing (binary -> package)."""
    global _apt_updated  # noqa: PLW0603 - one `apt-get update` per process is the point
    missing = sorted({package for binary, package in binaries.items() if which(binary) is None})
    if not missing:
        return
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise StackError(
                f"missing Debian packages {', '.join(missing)} and not running as root",
                f"run `sudo apt-get install -y {' '.join(missing)}`, then retry",
            )
        prefix = ["sudo", "-n"]
    log.info("installing Debian packages: %s", " ".join(missing))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        run(
            [*prefix, "apt-get", "update", "-qq"],
            what="apt-get update",
            fix="check that the Debian mirrors are reachable (see /etc/apt/sources.list*)",
            env=env,
        )
        _apt_updated = True
    run(
        [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        what=f"apt-get install {' '.join(missing)}",
        fix="read the apt output above; `apt-get install` it by hand to see the full error",
        env=env,
    )


def java_binary(min_major: int = 17) -> str:
    ensure_debian_packages({"java": "openjdk-17-jre-headless", "javac": "openjdk-17-jdk-headless"})
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else which("java")
    if java is None or not Path(java).exists():
        raise StackError(
            "no Java runtime found", "install one: `apt-get install openjdk-17-jdk-headless`"
        )
    output = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)', output)
    major = int(match.group(1)) if match else 0
    if major < min_major:
        raise StackError(
            f"{java} is Java {major}; Kafka, Neo4j 5.26 and Flink 2.2 need Java {min_major}+",
            "install openjdk-17-jdk-headless, or point JAVA_HOME at a JDK 17",
        )
    return java


def java_home() -> str:
    return str(Path(java_binary()).resolve().parent.parent)


def ensure_maven_jars(pom: Path, dest: Path) -> Path:
    """Copy the POM's runtime dependency closure into ``dest`` (once per POM content)."""
    stamp = dest / ".studyhub-stamp"
    wanted = _digest(pom.read_bytes())
    if stamp.exists() and stamp.read_text() == wanted:
        return dest
    ensure_debian_packages({"mvn": "maven"})
    java_binary()
    log.info("fetching jars for %s from Maven Central (first time only)", pom.parent.name)
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ],
        what=f"Maven download of {pom.parent.name} jars",
        fix="check that Maven Central is reachable (proxy settings in ~/.m2/settings.xml); "
        "the command above shows the failing artifact",
    )
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    stamp.write_text(wanted)
    return dest


def ensure_go_binary(module: str, version: str, binary: str, dest: Path, ldflags: str = "") -> Path:
    """``go install module@version`` into ``dest`` (pure Go, CGO off), once per version."""
    target = dest / f"{binary}-{version}"
    if target.exists():
        return target
    go = which("go")
    if go is None:
        ensure_debian_packages({"go": "golang-go"})
        go = which("go")
    if go is None:
        raise StackError("no Go toolchain found", "install Go 1.21+ (apt-get install golang-go)")
    log.info("building %s@%s with go install (first time only, ~1 min)", module, version)
    staging = dest / f".build-{binary}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    argv = [go, "install"]
    if ldflags:
        argv.append(f"-ldflags={ldflags}")
    argv.append(f"{module}@{version}")
    run(
        argv,
        what=f"go install {module}@{version}",
        fix="check that the Go module proxy is reachable (GOPROXY); the output shows the error",
        env={**os.environ, "CGO_ENABLED": "0", "GOBIN": str(staging), "GOFLAGS": "-buildvcs=false"},
    )
    (staging / binary).rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    return target


def _uv() -> list[str]:
    if (
        subprocess.run(
            [sys.executable, "-m", "uv", "--version"], capture_output=True, check=False
        ).returncode
        != 0
    ):
        run(
            [sys.executable, "-m", "pip", "install", "--quiet", "uv"],
            what="pip install uv",
            fix="check that PyPI is reachable",
        )
    return [sys.executable, "-m", "uv"]


FLINK_VENV = REPO_ROOT / ".venv-flink"


def ensure_flink_venv() -> Path:
    """The separate venv for PyFlink jobs (apache-beam pins would hold the app venv back)."""
    python = FLINK_VENV / "bin" / "python"
    stamp = FLINK_VENV / ".studyhub-stamp"
    wanted = _digest((REPO_ROOT / "pyproject.toml").read_bytes())
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return FLINK_VENV
    log.info("installing the PyFlink venv .venv-flink (first time ~1 min)")
    uv = _uv()
    if not python.exists():
        run(
            [*uv, "venv", "--quiet", "--python", sys.executable, str(FLINK_VENV)],
            what="creating .venv-flink",
            fix="check that Python 3.11 works",
        )
    run(
        [*uv, "pip", "install", "--quiet", "--python", str(python), "-e", f"{REPO_ROOT}[flink]"],
        what="installing apache-flink into .venv-flink",
        fix="check that PyPI is reachable; the output shows the failing package",
    )
    stamp.write_text(wanted)
    return FLINK_VENV


def flink_home() -> Path:
    """PyFlink ships a full Flink distribution (bin/, lib/ with flink-dist) inside the wheel."""
    venv = ensure_flink_venv()
    homes = sorted((venv / "lib").glob("python3*/site-packages/pyflink"))
    if not homes:
        raise StackError("pyflink is not installed in .venv-flink", "delete .venv-flink and retry")
    return homes[0]


def compile_java(source: Path, classpath_dir: Path, out_dir: Path) -> Path:
    stamp = out_dir / ".studyhub-stamp"
    wanted = _digest(source.read_bytes(), str(classpath_dir).encode())
    if stamp.exists() and stamp.read_text() == wanted:
        return out_dir
    java = Path(java_binary())
    javac = java.with_name("javac")
    if not javac.exists():
        ensure_debian_packages({"javac": "openjdk-17-jdk-headless"})
        javac = Path(which("javac") or "javac")
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    run(
        [str(javac), "-nowarn", "-cp", f"{classpath_dir}/*", "-d", str(out_dir), str(source)],
        what=f"compiling {source.name}",
        fix="the compiler output above names the problem; the jars may be incomplete: "
        f"delete {classpath_dir} and retry",
    )
    stamp.write_text(wanted)
    return out_dir
