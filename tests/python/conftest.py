# Fixtures for the Python package tests: the shared test data and the CLI (to compare with),
# from the environment run_pytest.sh sets, and stories260K loaded once.
import os
import pathlib

import pytest

import dcllm

DATA = pathlib.Path(os.environ.get("DCLLM_SHARED_DATA",
                                   pathlib.Path(__file__).parents[2] / ".." / "shared" / "data"))
CLI = os.environ.get("DCLLM_CLI", "")


@pytest.fixture(scope="session")
def data():
    if not (DATA / "stories260K.bin").exists():
        pytest.skip(f"no test data at {DATA}")
    return DATA


@pytest.fixture(scope="session")
def cli():
    if not CLI or not os.path.exists(CLI):
        pytest.skip("DCLLM_CLI not set: no dcllm binary to compare with")
    return CLI


@pytest.fixture(scope="session")
def stories(data):
    return dcllm.load(data / "stories260K.bin", tokenizer=data / "tok512.bin", threads=1)


@pytest.fixture(scope="session")
def compressed(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("dcllm") / "stories260K.dcllm"
    report = dcllm.compress(data / "stories260K.bin", out, calib=data / "tinystories_valid_head.txt",
                            tokenizer=data / "tok512.bin", calib_tokens=1024, calib_ctx=128,
                            threads=1)
    return out, report
