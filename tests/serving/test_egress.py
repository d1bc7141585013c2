"""The egress guard: credentialed tasks reach only local, private or approved endpoints."""

from __future__ import annotations

import pytest

from clue.core.errors import UsageError
from clue.models.base import Backend
from clue.models.baseline import BaselineBackend
from clue.pipeline.egress import EgressRefused, check_egress, classify, endpoint_of, read_approvals
from clue.tasks import get_task

CREDENTIALED = [get_task("mednli"), get_task("meqsum")]
PUBLIC = [get_task("meqsum"), get_task("longhealth")]


def no_dns(host: str) -> list[str]:
    raise AssertionError(f"the guard resolved {host!r} although it did not need to")


def fake_dns(table: dict[str, list[str]]):
    def resolve(host: str) -> list[str]:
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    return resolve


@pytest.fixture(autouse=True)
def no_user_approvals(tmp_path, monkeypatch):
    # The user's own approvals file must not leak into the tests.
    monkeypatch.setenv("CLUE_APPROVED_ENDPOINTS", str(tmp_path / "absent.toml"))


class ServerBackend(Backend):
    """A backend that only names its endpoints: the guard reads nothing else."""

    kind = "server"

    def endpoints(self) -> list[str]:
        return self.target.split(",")

    def generate(self, requests):
        raise AssertionError("the guard must not generate")


def openai(url: str) -> Backend:
    return ServerBackend(url, {})


def test_remote_endpoint_with_credentialed_task_is_refused_before_any_request(serve):
    from clue.models.openai import OpenAIBackend

    server = serve()
    # A public address and a local replica; the real backend, which must not have sent anything.
    backend = OpenAIBackend("m", {"base_url": f"http://203.0.113.7:8000/v1,{server.url}"})
    with pytest.raises(EgressRefused) as refused:
        check_egress(backend, CREDENTIALED, resolver=no_dns)
    message = str(refused.value)
    assert refused.value.exit_code == 4
    assert "http://203.0.113.7:8000" in message and "mednli" in message and "PhysioNet" in message
    assert "--approve-endpoint http://203.0.113.7:8000" in message
    assert server.url.split("/v1")[0] not in message  # the local replica is fine
    assert server.requests == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1",
        "http://[::1]:8080/v1",
        "http://10.1.2.3:8000/v1",
        "http://172.20.0.9/v1",
        "https://192.168.1.50:8443/v1",
        "http://[fd12:3456::1]:8000/v1",
    ],
)
def test_loopback_and_private_addresses_pass(url):
    [verdict] = check_egress(openai(url), CREDENTIALED, resolver=no_dns)
    assert verdict.allowed


def test_host_names_pass_only_when_every_address_is_private():
    dns = fake_dns({"gpu-node-3": ["10.0.0.3"], "mixed.example": ["10.0.0.4", "93.184.216.34"], "localhost": ["127.0.0.1"]})
    assert classify("http://gpu-node-3:8000/v1", [], dns).allowed
    assert classify("http://localhost:11434/v1", [], dns).addresses == ("127.0.0.1",)  # resolved like any name
    mixed = classify("http://mixed.example/v1", [], dns)
    assert not mixed.allowed and "93.184.216.34" in mixed.reason
    unknown = classify("http://nowhere.invalid/v1", [], dns)
    assert not unknown.allowed and "does not resolve" in unknown.reason
    assert not classify("http://172.32.0.1/v1", [], dns).allowed  # just outside 172.16/12
    assert not classify("http://[::ffff:8.8.8.8]/v1", [], dns).allowed


def test_an_approved_endpoint_passes_exactly(tmp_path):
    backend = openai("https://api.example.com/v1")
    check_egress(backend, CREDENTIALED, approved=["https://api.example.com:443"], resolver=no_dns)
    with pytest.raises(EgressRefused):  # another port is another endpoint
        check_egress(backend, CREDENTIALED, approved=["https://api.example.com:8443"], resolver=fake_dns({}))

    config = tmp_path / "approved-endpoints.toml"
    config.write_text('[[endpoint]]\nurl = "https://API.example.com"\nnote = "covered by our agreement"\n')
    [verdict] = check_egress(backend, CREDENTIALED, config_path=config, resolver=no_dns)
    assert verdict.allowed and verdict.reason == "approved by the user"


def test_the_approvals_file_is_found_through_the_environment(tmp_path, monkeypatch):
    config = tmp_path / "mine.toml"
    config.write_text('[[endpoint]]\nurl = "https://llm.hospital.example:8443"\n')
    monkeypatch.setenv("CLUE_APPROVED_ENDPOINTS", str(config))
    check_egress(openai("https://llm.hospital.example:8443/v1"), CREDENTIALED, resolver=no_dns)


def test_a_broken_approvals_file_stops_the_run(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[[endpoint]]\nurl = 'https://x.example'\n[[endpoint]\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        read_approvals(config)
    config.write_text("[[endpoint]]\nnote = 'no url'\n")
    with pytest.raises(UsageError, match="needs url"):
        check_egress(openai("https://x.example/v1"), CREDENTIALED, config_path=config)


def test_public_tasks_and_in_process_backends_always_pass():
    assert check_egress(openai("https://api.example.com/v1"), PUBLIC, resolver=no_dns) == []
    assert check_egress(BaselineBackend(), CREDENTIALED, resolver=no_dns) == []


def test_endpoints_are_compared_in_one_form():
    assert endpoint_of("HTTPS://Api.Example.com/v1?x=1") == "https://api.example.com:443"
    assert endpoint_of("http://user:pw@host:8000/v1") == "http://host:8000"
    assert endpoint_of("[::1]:8000") == "https://[::1]:8000"
