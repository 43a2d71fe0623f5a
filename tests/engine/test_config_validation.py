"""Configuration checked at start-up: every problem on one line, with a suggestion for a typo."""

from __future__ import annotations

from typing import Any

import pytest

import graph.app  # noqa: F401  (declares the [gateway] keys it wires in)
import schema.root  # noqa: F401  (its resolvers modules declare the sources)
from demo.simulator import load_config
from graph.config import ConfigError, from_mapping, problems_of, validate

AUTH = {"anonymous": True}
BRP = {"url": "http://127.0.0.1:1/brp", "auth": "api-key", "key": "k"}


def problems(sources: dict[str, Any], gateway: dict[str, Any] | None = None) -> list[str]:
    return problems_of(from_mapping({"gateway": {"auth": AUTH, **(gateway or {})}, "sources": sources}))


def test_the_demo_configuration_is_valid() -> None:
    assert problems_of(from_mapping(load_config())) == []


def test_a_typo_in_a_source_name_suggests_the_known_one() -> None:
    assert problems({"brpp": BRP}) == ["unknown source 'brpp' (did you mean 'brp'?)"]


def test_an_unknown_source_without_a_close_match_lists_the_known_ones() -> None:
    [line] = problems({"weer": BRP})
    assert line.startswith("unknown source 'weer'; known: ") and "brp" in line


def test_a_typo_in_a_key_suggests_the_known_one() -> None:
    assert problems({"brp": {**BRP, "timeout": 5}}) == [
        "[sources.brp] unknown key 'timeout' (did you mean 'timeout_s'?)"]


def test_a_wrong_type_is_named() -> None:
    assert problems({"brp": {**BRP, "retries": "many", "personal": "perhaps"}}) == [
        "[sources.brp] retries must be a whole number >= 0", "[sources.brp] personal must be true or false"]


def test_values_from_the_environment_arrive_as_text_and_pass() -> None:
    config = from_mapping({"gateway": {"auth": AUTH}, "sources": {"brp": BRP}},
                          {"GEMEENTEGRAAF_BRP_RETRIES": "3", "GEMEENTEGRAAF_BRP_PERSONAL": "false"})
    assert problems_of(config) == []


def test_a_wrong_auth_kind_is_one_line_naming_the_known_kinds() -> None:
    [line] = problems({"brp": {"url": BRP["url"], "auth": "apikey"}})
    assert line.startswith("[sources.brp] unknown auth 'apikey' (did you mean 'api-key'?); one of ")
    assert "zgw-jwt" in line and "\n" not in line


def test_only_the_chosen_schemes_keys_and_its_required_ones() -> None:
    assert problems({"brp": {"url": BRP["url"], "auth": "zgw-jwt", "client_id": "c", "key": "k"}}) == [
        "[sources.brp] 'key' is not read by auth = 'zgw-jwt'; it reads client_id, secret",
        "[sources.brp] auth = 'zgw-jwt' needs secret (or secret_file)",
    ]


def test_source_specific_and_demo_keys() -> None:
    zaken = {"url": "http://127.0.0.1:1/zaken", "page_size": 100, "product": "open-zaak"}
    assert problems({"zaken": zaken, "brp": {**BRP, "demo_day_limit": 3}}) == []
    assert problems({"brp": {**BRP, "page_size": 100}}) == ["[sources.brp] unknown key 'page_size'"]


def test_missing_url_and_every_other_shape_problem_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        from_mapping({"sourcs": {}, "sources": {"brp": {"auth": "none"}, "bag": {"url": "x", "timeout_s": 0}}})
    assert caught.value.problems == [
        "unknown table [sourcs] (did you mean 'sources'?)",
        "[sources.brp] url is missing (the source's base URL, http:// or https://)",
        "[sources.bag] url must be an http(s) URL",
        "[sources.bag] timeout_s must be a number > 0 (seconds)",
    ]


def test_gateway_keys_and_tables() -> None:
    found = problems({"brp": BRP}, {"portt": 1, "cache": {"max_entrie": 3}, "ready_timeout_s": "soon"})
    assert found == [
        "[gateway] unknown key 'portt' (did you mean 'port'?)",
        "[gateway.cache] unknown key 'max_entrie' (did you mean 'max_entries'?)",
        "[gateway] ready_timeout_s must be a number >= 0",
    ]
    environment = {"GEMEENTEGRAAF_GATEWAY_CACHE_MAX_ENTRIES": "5", "GEMEENTEGRAAF_GATEWAY_LOGBOEK_SINKK": "x"}
    overridden = from_mapping({"gateway": {"auth": AUTH}, "sources": {"brp": BRP}}, environment)
    assert problems_of(overridden) == ["[gateway.logboek] unknown key 'sinkk' (did you mean 'sink'?)"]


def test_the_readers_problems_come_with_the_rest() -> None:
    found = problems({"brp": {**BRP, "stages": ["retry", "breakr"]}}, {"cache": {"backend": "memcached"}})
    assert found[0].startswith("[sources.brp] unknown stages ['breakr']")
    assert found[1].startswith("[gateway.cache] backend must be one of")


def test_the_notifications_source_is_known_because_the_configuration_names_it() -> None:
    table = {"source": "nrc", "callback_url": "http://127.0.0.1:8000/_n", "auth": "Bearer x", "kanalen": ["zaken"]}
    assert problems({"nrc": {"url": "http://127.0.0.1:1/nrc"}}, {"notifications": table}) == []


def test_validate_raises_one_error_holding_every_line() -> None:
    with pytest.raises(ConfigError) as caught:
        validate(from_mapping({"gateway": {"auth": AUTH}, "sources": {"brpp": BRP, "brp": {**BRP, "timeout": 1}}}))
    assert str(caught.value).splitlines() == caught.value.problems and len(caught.value.problems) == 2
