"""Property-based: whatever config arrives, the config module ends in StackConfig or ConfigError."""

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_on_k8s.config import CONFIG_KEYS, POSTGRES_STORAGE_SIZES, StackConfig, parse_stack_config
from airflow_on_k8s.errors import ConfigError
from tests.harness import ANY_CHARACTER, MINIMAL_SECRET_KEYS, created_cluster_config, managed_config, minimal_config

KEY_NAMES = [spec.name for spec in CONFIG_KEYS]
# Every integer key caps below 100000; storage only takes listed sizes and gets its own strategy.
INTEGER_KEYS = [spec.name for spec in CONFIG_KEYS if spec.type == "integer" and spec.name != "postgresStorageSizeGb"]

config_text = st.one_of(
    st.text(ANY_CHARACTER, max_size=40),
    st.integers(min_value=-10**12, max_value=10**12).map(str),
    st.sampled_from(["", "latest", "true", "False", "0", "1.16", "~1.16", "4Gi", "500m", "-1",
                     "1e999", "0x10", "null", "{}", "git@github.com:a/b.git", "https://x/y",
                     "https://[", "https://h:99999", "ssh://[x", "[\"10.0.0.0/8\"]", "[1, 2]", "{\"a\": [\"Admin\"]}"]),
)


@settings(max_examples=300, deadline=None)
@given(overrides=st.dictionaries(st.sampled_from([*KEY_NAMES, "unknownKey", "Namespace"]),
                                 config_text, max_size=6),
       removed=st.sets(st.sampled_from(KEY_NAMES), max_size=2),
       stack=st.sampled_from(["dev", "prod", "staging", ""]),
       secret=st.booleans())
def test_any_config_ends_in_stack_config_or_config_error(
        overrides: dict[str, str], removed: set[str], stack: str, secret: bool) -> None:
    raw = {**minimal_config(), **overrides}
    for name in removed:
        raw.pop(name, None)
    secret_keys = frozenset(name for name in raw if secret)
    try:
        result = parse_stack_config(raw, stack=stack, secret_keys=secret_keys)
    except ConfigError as error:
        assert "\n" not in str(error)
        assert error.key.startswith("airflow-on-k8s:")
    else:
        assert isinstance(result, StackConfig)


bad_values = st.one_of(
    st.tuples(st.just("postgresStorageSizeGb"),
              st.integers(min_value=1, max_value=40_000).filter(lambda n: n not in POSTGRES_STORAGE_SIZES).map(str)),
    st.tuples(st.sampled_from(INTEGER_KEYS),
              st.one_of(st.integers(min_value=100_001).map(str),
                        st.integers(max_value=-1).map(str),
                        st.text(alphabet=string.ascii_letters, min_size=1))),
    st.tuples(st.sampled_from(["namespace", "releaseName"]),
              st.text(alphabet=string.ascii_lowercase, max_size=20)
              .map(lambda label: label + "_" + label.upper())),
    st.tuples(st.just("chartVersion"),
              st.sampled_from(["~", "^", ">=", "v", "=", "latest-"]).flatmap(
                  lambda prefix: st.from_regex(r"\A\d{1,2}\.\d{1,2}\.\d{1,2}\Z", alphabet=ANY_CHARACTER)
                  .map(prefix.__add__))),
    st.tuples(st.just("airflowImageTag"), st.sampled_from(["latest", "Latest", "", "   "])),
    st.tuples(st.sampled_from(["workerCpuRequest", "workerMemoryRequest"]),
              st.text(alphabet="xyzQ!/ ", min_size=1)),
    st.tuples(st.just("environment"),
              st.text(ANY_CHARACTER, min_size=1).filter(lambda v: v.strip() not in ("", "dev", "prod"))),
    st.tuples(st.just("gitRepo"), st.text(alphabet=string.ascii_lowercase + "/.", min_size=1)),
)


@settings(max_examples=300, deadline=None)
@given(bad=bad_values, stack=st.sampled_from(["dev", "prod"]))
def test_generated_bad_values_always_end_in_config_error(bad: tuple[str, str], stack: str) -> None:
    key, value = bad
    try:
        if key.startswith("postgres"):
            base = managed_config("public")
        else:
            base = created_cluster_config(imageSource="existing")
        parse_stack_config({**base, key: value}, stack=stack, secret_keys=MINIMAL_SECRET_KEYS)
    except ConfigError as error:
        assert error.key == f"airflow-on-k8s:{key}"
    else:
        raise AssertionError(f"{key}={value!r} was accepted")
