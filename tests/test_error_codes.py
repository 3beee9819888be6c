"""Errors with codes, end to end: a contract's refusal carries a machine code from the contract through
endorsement to the SDK, and the gateway answers every SDK error with a status chosen in one place.
"""

from __future__ import annotations

import pytest

from consortia.client import (
    CommitTimeout,
    EndorsementFailed,
    GatewayError,
    OrderingFailed,
    TransactionInvalid,
)
from consortia.contracts import ContractCode, ContractError
from consortia.contracts.lifecycle import LIFECYCLE
from consortia.gateway.server.problems import problem_for
from consortia.network.embedded import EmbeddedNetwork


def test_contract_error_defaults_to_invalid_and_refuses_unknown_codes() -> None:
    """A ContractError without a code is INVALID; a code outside ContractCode is a programming error."""
    assert ContractError("bad input").code is ContractCode.INVALID
    assert ContractError("mine", code="FORBIDDEN").code == "FORBIDDEN"
    with pytest.raises(ValueError, match="NOPE"):
        ContractError("x", code="NOPE")


@pytest.mark.parametrize(
    ("action", "contract_code"),
    [
        ("create twice", "CONFLICT"),
        ("transfer another's asset", "FORBIDDEN"),
        ("read a missing asset", "NOT_FOUND"),
        ("bad arguments", "INVALID"),
        ("approve as a client", "FORBIDDEN"),
    ],
)
def test_contract_codes_reach_the_sdk(network: EmbeddedNetwork, action: str, contract_code: str) -> None:
    """EndorsementFailed keeps CONTRACT_ERROR as its code and carries the contract's own code."""
    org1 = network.gateway("Org1").network("ch1").contract("asset-transfer")
    org2 = network.gateway("Org2").network("ch1").contract("asset-transfer")
    org1.submit("create", "coded", "red", 1, 1)
    with pytest.raises(EndorsementFailed) as refused:
        if action == "create twice":
            org1.submit("create", "coded", "blue", 1, 1)
        elif action == "transfer another's asset":
            org2.submit("transfer", "coded", "Org2")
        elif action == "read a missing asset":
            org1.evaluate("read", "never-created")
        elif action == "bad arguments":
            org1.submit("create", "coded2", "red", "big", 1)
        else:
            network.gateway("Org1").network("ch1").contract(LIFECYCLE).submit("approve", "x", "1", 1, "0" * 64, "", [])
    assert refused.value.code == "CONTRACT_ERROR"
    assert refused.value.contract_code == contract_code


def test_platform_refusals_carry_no_contract_code(network: EmbeddedNetwork) -> None:
    """Refusals that are not the contract's (an unknown function) keep their own code and no contract code."""
    with pytest.raises(EndorsementFailed) as refused:
        network.gateway("Org1").network("ch1").contract("asset-transfer").evaluate("no_such_function")
    assert (refused.value.code, refused.value.contract_code) == ("UNKNOWN_FUNCTION", None)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (EndorsementFailed("CONTRACT_ERROR", "m", contract_code="FORBIDDEN"), 403),
        (EndorsementFailed("CONTRACT_ERROR", "m", contract_code="NOT_FOUND"), 404),
        (EndorsementFailed("CONTRACT_ERROR", "m", contract_code="CONFLICT"), 409),
        (EndorsementFailed("CONTRACT_ERROR", "m", contract_code="GONE"), 410),
        (EndorsementFailed("CONTRACT_ERROR", "m", contract_code="INVALID"), 400),
        (EndorsementFailed("CONTRACT_ERROR", "m"), 400),
        (EndorsementFailed("NOT_A_MEMBER", "m"), 403),
        (EndorsementFailed("UNKNOWN_CONTRACT", "m"), 404),
        (EndorsementFailed("NO_PEER", "m"), 503),
        (EndorsementFailed("SOMETHING_NEW", "m"), 400),
        (TransactionInvalid("MVCC_READ_CONFLICT", "m", "t" * 64, 7), 409),
        (OrderingFailed("ORDERING_413", "m"), 413),
        (OrderingFailed("ORDERING_999", "m"), 503),
        (CommitTimeout("COMMIT_TIMEOUT", "m"), 504),
        (GatewayError("BAD_ARGUMENTS", "m"), 400),
    ],
)
def test_problem_for_maps_every_sdk_error(error: GatewayError, status: int) -> None:
    """One function picks the status; the document keeps the SDK code and, for contracts, the contract's code."""
    problem = problem_for(error)
    assert problem.status == status
    assert problem.code == error.code
    assert problem.detail.endswith("m")
    if error.contract_code is not None:
        assert problem.extra["contract_code"] == error.contract_code
    else:
        assert "contract_code" not in problem.extra
    if isinstance(error, TransactionInvalid):
        assert problem.extra["block"] == 7
