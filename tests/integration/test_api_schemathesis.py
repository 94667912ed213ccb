"""Property-based run of the whole OpenAPI document: no input makes the API answer 5xx.

Schemathesis generates valid and invalid requests for every operation in /openapi.json,
signed in as a real user, and checks every reply. (Its pytest plugin does not support
pytest 9 yet, so the operations are driven through Hypothesis directly.)
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err

from tests.utils.api import People

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 30


def test_no_input_causes_a_server_error(api_url: str, people: People) -> None:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    person = people.register(prefix="fuzz")
    headers = {"Authorization": str(person.http.headers["Authorization"])}
    failures: list[str] = []
    statuses: list[int] = []
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"invalid schema: {result.err()}")
        else:
            operations.append(result.ok())
    assert len(operations) >= 20, [op.label for op in operations]

    for operation in operations:

        @given(case=operation.as_strategy(), data=st.data())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Case[Any], data: st.DataObject) -> None:
            del data
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            run()
        except Exception as error:  # noqa: BLE001 - collect every operation's failure, then report
            failures.append(f"{operation.label}: {str(error)[:800]}")

    assert failures == []
    # The run did exercise the API, valid and invalid inputs alike.
    assert len(statuses) >= 10 * len(operations)
    assert {200, 422} <= set(statuses)
    logging.getLogger(__name__).info(
        "%d requests, statuses %s", len(statuses), sorted(set(statuses))
    )
