from __future__ import annotations


class StackError(Exception):
    """A problem the person running the stack can fix; says what went wrong and how to fix it."""

    def __init__(self, problem: str, fix: str, *, log_tail: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.log_tail = log_tail

    def __str__(self) -> str:
        text = f"{self.problem}\n  fix: {self.fix}"
        if self.log_tail:
            text += f"\n  last log lines:\n{self.log_tail}"
        return text
