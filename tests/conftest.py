import warnings
from pathlib import Path

import pytest

SHARED_CDNOW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cdnow"
SHARED_TAFENG = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tafeng" / "ta_feng.parquet"


@pytest.fixture(scope="session")
def shared_cdnow() -> Path:
    """The shared CDNOW folder with published results (../shared/data/cdnow)."""
    if not SHARED_CDNOW.exists():
        pytest.skip(f"{SHARED_CDNOW} is not present")
    return SHARED_CDNOW


@pytest.fixture(scope="session")
def shared_tafeng() -> Path:
    """The Ta-Feng grocery log (../shared/data/tafeng/ta_feng.parquet)."""
    if not SHARED_TAFENG.exists():
        pytest.skip(f"{SHARED_TAFENG} is not present")
    return SHARED_TAFENG


@pytest.fixture(autouse=True)
def _quiet_reference_libraries():
    # lifetimes and friends emit deprecation noise with pandas 3 / numpy 2.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        yield
