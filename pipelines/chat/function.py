"""The Python side of the chat persistence job (runs in the TaskManager's Python worker).

A vectorised (pandas) scalar function: Flink hands it a whole Arrow batch of Kafka values per
call, and the batch closes when the Python bundle does (``python.fn-execution.bundle.time`` /
``.size``) and before every checkpoint barrier. So one call is one flush: per shard one
transaction, then one Redis pipeline (``pipelines.chat.store``). Nothing is done per record
but parsing and numbering.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pyflink.table import DataTypes
from pyflink.table.udf import FunctionContext, ScalarFunction, UserDefinedScalarFunctionWrapper, udf

from pipelines.chat.store import ChatStore, open_store


class PersistBatch(ScalarFunction):  # type: ignore[misc]
    def __init__(self, connections: dict[str, Any]) -> None:
        self.connections = connections
        self.store: ChatStore | None = None

    def open(self, function_context: FunctionContext) -> None:
        del function_context
        self.store = open_store(self.connections)

    def is_deterministic(self) -> bool:
        # It stores and broadcasts: the planner must call it exactly once per row, and never
        # fold, reorder or repeat it.
        return False

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    def eval(self, payloads: pd.Series) -> pd.Series:
        if self.store is None:
            raise RuntimeError("persist_batch was called before open()")
        return pd.Series(self.store.persist(payloads.tolist()), dtype="int64")


def persist_batch(connections: dict[str, Any]) -> UserDefinedScalarFunctionWrapper:
    return udf(
        PersistBatch(connections),
        result_type=DataTypes.BIGINT(),
        func_type="pandas",
        deterministic=False,
        name="persist_batch",
    )
