/*
 * studyhub dev stack: embedded Neo4j 5.26 Community + Bolt + Graph Data Science (GDS) 2.13.
 *
 * Build:  javac -cp "lib/*" -d build src/Neo4jLauncher.java
 * Run:    NEO4J_PASSWORD=... java -Xms256m -Xmx1g <JVM flags from NOTES.md> -cp "build:lib/*" Neo4jLauncher <homeDir> <boltPort>
 *
 * Contract
 *   arg 1 / -Dneo4j.home       Neo4j home; data in <home>/data, logs in <home>/logs   (default ./neo4j-home)
 *   arg 2 / -Dneo4j.bolt.port  Bolt port, bound on 127.0.0.1                           (default 7687)
 *   -Dneo4j.bolt.host          Bolt listen host                                        (default 127.0.0.1)
 *   -Dneo4j.pagecache          page cache size, e.g. 128m, 1g                          (default 128m)
 *   -Dneo4j.log.level          level of the user log written to stderr (DEBUG|INFO|WARN|ERROR|NONE, default INFO);
 *                              the full debug log is always <home>/logs/debug.log
 *   env NEO4J_PASSWORD         password of user "neo4j" (required, >= 8 chars);
 *                              applied on every start with ALTER USER on the system database.
 *   stdout                     exactly one line "NEO4J READY bolt://<host>:<port> version=<neo4j> gds=<gds>"
 *                              when the DBMS is up and GDS answers; "NEO4J STOPPED" after a clean shutdown.
 *   exit codes                 1 startup failure, 2 bad arguments / missing password,
 *                              3 bolt port already in use, 4 GDS procedures not available.
 *                              SIGTERM/SIGINT: clean shutdown (JVM exit status 143/130).
 */

import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.zip.ZipFile;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;

public final class Neo4jLauncher {

    private static final int EXIT_STARTUP_FAILED = 1;
    private static final int EXIT_USAGE = 2;
    private static final int EXIT_PORT_IN_USE = 3;
    private static final int EXIT_NO_GDS = 4;

    public static void main(String[] args) {
        Path home = Paths.get(arg(args, 0, "neo4j.home", "neo4j-home")).toAbsolutePath().normalize();
        String host = System.getProperty("neo4j.bolt.host", "127.0.0.1");
        int port;
        long pageCache;
        try {
            port = Integer.parseInt(arg(args, 1, "neo4j.bolt.port", "7687"));
            if (port < 1 || port > 65535) throw new NumberFormatException("out of range");
            pageCache = parseBytes(System.getProperty("neo4j.pagecache", "128m"));
        } catch (NumberFormatException e) {
            fail(EXIT_USAGE, "bad argument: " + e.getMessage()
                    + " (usage: Neo4jLauncher <homeDir> <boltPort>)");
            return;
        }
        Level logLevel;
        try {
            logLevel = Level.valueOf(System.getProperty("neo4j.log.level", "INFO").toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            fail(EXIT_USAGE, "bad -Dneo4j.log.level (use DEBUG, INFO, WARN, ERROR, NONE)");
            return;
        }
        String password = System.getenv("NEO4J_PASSWORD");
        if (password == null || password.isEmpty()) {
            fail(EXIT_USAGE, "environment variable NEO4J_PASSWORD is not set");
        }
        if (password.length() < 8) {
            fail(EXIT_USAGE, "NEO4J_PASSWORD must be at least 8 characters (Neo4j 5 minimum password length)");
        }

        // Fail fast with a clear message if something already listens on the bolt port.
        if (!portFree(host, port)) {
            fail(EXIT_PORT_IN_USE, "bolt port " + host + ":" + port + " is already in use");
        }

        Path pluginDir = home.resolve("plugins");
        try {
            linkGdsJars(pluginDir);
        } catch (IOException e) {
            fail(EXIT_STARTUP_FAILED, "cannot prepare plugin dir " + pluginDir + ": " + e);
        }

        DatabaseManagementService dbms;
        try {
            dbms = new DatabaseManagementServiceBuilder(home)
                    // neo4j.log equivalent goes to stderr; debug.log goes to <home>/logs/debug.log
                    .setUserLogProvider(new Log4jLogProvider(System.err, logLevel))
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                    .setConfig(BoltConnector.advertised_address, new SocketAddress(host, port))
                    .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                    .setConfig(HttpConnector.enabled, false)
                    .setConfig(HttpsConnector.enabled, false)
                    .setConfig(GraphDatabaseSettings.auth_enabled, true)
                    .setConfig(GraphDatabaseSettings.pagecache_memory, pageCache)
                    .setConfig(GraphDatabaseSettings.plugin_dir, pluginDir)
                    .setConfig(GraphDatabaseSettings.procedure_unrestricted, List.of("gds.*"))
                    .setConfig(GraphDatabaseSettings.procedure_allowlist, List.of("gds.*"))
                    // dev-sized transaction logs: Neo4j otherwise preallocates 256 MiB per database up front
                    .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                    .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, 64L << 20)
                    // no anonymous usage reporting (the machine has no internet anyway)
                    .setConfig(GraphDatabaseSettings.udc_enabled, false)
                    // bolt waits 5s for its worker pool on shutdown by default; a dev stack wants fast stops
                    .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                    .build();
        } catch (Throwable t) {
            if (hasCause(t, BindException.class) || String.valueOf(rootCause(t).getMessage()).contains("Address already in use")) {
                fail(EXIT_PORT_IN_USE, "bolt port " + host + ":" + port + " is already in use (" + rootCause(t) + ")");
            }
            t.printStackTrace();
            fail(EXIT_STARTUP_FAILED, "Neo4j failed to start: " + rootCause(t));
            return;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        final DatabaseManagementService service = dbms;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                service.shutdown();
                System.out.println("NEO4J STOPPED");
                System.out.flush();
            } catch (Throwable t) {
                System.err.println("NEO4J ERROR during shutdown: " + t);
            } finally {
                stopped.countDown();
            }
        }, "neo4j-shutdown"));

        String neo4jVersion;
        String gdsVersion;
        try {
            GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
            GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
            if (!db.isAvailable(Duration.ofMinutes(2).toMillis())) {
                throw new IllegalStateException("database 'neo4j' did not become available");
            }
            setPassword(system, password);
            neo4jVersion = db.executeTransactionally(
                    "CALL dbms.components() YIELD name, versions WHERE name = 'Neo4j Kernel' RETURN versions[0] AS v",
                    Map.of(), r -> r.hasNext() ? String.valueOf(r.next().get("v")) : "unknown");
        } catch (Throwable t) {
            t.printStackTrace();
            fail(EXIT_STARTUP_FAILED, "Neo4j started but initialisation failed: " + rootCause(t));
            return;
        }
        try {
            gdsVersion = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME)
                    .executeTransactionally("RETURN gds.version() AS v", Map.of(),
                            r -> String.valueOf(r.next().get("v")));
        } catch (Throwable t) {
            fail(EXIT_NO_GDS, "GDS is not available: " + rootCause(t));
            return;
        }

        System.out.println("NEO4J READY bolt://" + host + ":" + port + " version=" + neo4jVersion + " gds=" + gdsVersion);
        System.out.flush();

        try {
            stopped.await();
        } catch (InterruptedException ignored) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Sets the password of the built-in user 'neo4j' (created by Neo4j on first start with password 'neo4j'
     * and "change required"). Run on every start so that NEO4J_PASSWORD always wins; Neo4j refuses to
     * "change" a password to the value it already has, which is the normal case on restarts.
     */
    private static void setPassword(GraphDatabaseService system, String password) {
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
        } catch (RuntimeException e) {
            if (!String.valueOf(rootCause(e).getMessage()).contains("Old password and new password cannot be the same")) {
                throw e;
            }
        }
    }

    /**
     * Neo4j only registers procedures found in jars inside the plugin directory (like the server does).
     * The GDS jars are already on the classpath (their kernel extension is found via ServiceLoader there);
     * symlink them into <home>/plugins so that the procedure loader scans them too. Classes still come from
     * the application class loader (parent-first), so extension and procedures share the same classes.
     */
    private static void linkGdsJars(Path pluginDir) throws IOException {
        Files.createDirectories(pluginDir);
        try (var existing = Files.list(pluginDir)) {
            for (Path p : (Iterable<Path>) existing::iterator) {
                if (Files.isSymbolicLink(p)) Files.delete(p);
            }
        }
        int linked = 0;
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            if (!entry.endsWith(".jar")) continue;
            Path jar = Paths.get(entry).toAbsolutePath();
            if (!Files.isRegularFile(jar) || !isGdsJar(jar)) continue;
            Path link = pluginDir.resolve(jar.getFileName());
            if (Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) continue;
            Files.createSymbolicLink(link, jar);
            linked++;
        }
        if (linked == 0) {
            System.err.println("NEO4J WARN no GDS jars (org/neo4j/gds/*) found on the classpath");
        }
    }

    private static boolean isGdsJar(Path jar) {
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            return zip.stream().anyMatch(e -> e.getName().startsWith("org/neo4j/gds/") && e.getName().endsWith(".class"));
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean portFree(String host, int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getByName(host), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static String arg(String[] args, int idx, String prop, String dflt) {
        if (args.length > idx && !args[idx].isBlank()) return args[idx];
        return System.getProperty(prop, dflt);
    }

    private static long parseBytes(String s) {
        String v = s.trim().toLowerCase(Locale.ROOT);
        long mult = 1;
        if (v.endsWith("k")) mult = 1L << 10;
        else if (v.endsWith("m")) mult = 1L << 20;
        else if (v.endsWith("g")) mult = 1L << 30;
        if (mult != 1) v = v.substring(0, v.length() - 1);
        return Long.parseLong(v) * mult;
    }

    private static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) return true;
            if (c.getCause() == c) break;
        }
        return false;
    }

    private static Throwable rootCause(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) c = c.getCause();
        return c;
    }

    private static void fail(int code, String msg) {
        System.err.println("NEO4J ERROR " + msg);
        System.err.flush();
        // exit (not halt): if the DBMS is already up, the shutdown hook stops it cleanly first
        System.exit(code);
    }
}
