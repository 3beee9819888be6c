"""FinCEN SAR and CTR batches: valid against the shared XSDs, totals right, broken filings refused by element."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from consortia.apps.aml.domain.cases import (
    Assign,
    Decide,
    Decision,
    IdentifySuspect,
    Open,
    RecordFiling,
    ReviewContinuing,
    replay,
)
from consortia.apps.aml.domain.filings import (
    Address,
    CashItem,
    Classification,
    CtrPerson,
    CurrencyActivity,
    Filer,
    FilingError,
    Subject,
    SuspiciousActivity,
    Transmitter,
    activity_from,
    build_ctr,
    build_sar,
    case_transactions,
    codes,
    counts,
    ctr_due,
    currency_activity,
    draft_narrative,
    filing_hash,
    validate,
)
from consortia.apps.aml.domain.transactions import Alert, RuleHit, Transaction

FINCEN = Path(__file__).resolve().parents[2].parent / "shared" / "testvectors" / "fincen"
NS = "www.fincen.gov/base"
Q = {"f": NS}

BANK = Address("270 Park Avenue", "New York", "NY", "10017")
FILER = Filer(
    name="Hudson Bank, N.A.",
    ein="13-4994650",
    address=BANK,
    contact_office="BSA/AML Compliance Office",
    contact_phone="212-555-0199",
    transmitter=Transmitter("Hudson Bank, N.A.", BANK, "212-555-0100", "13-4994650", "TBSATEST", "Dana Reyes"),
)
EXCHANGE = Subject(
    "Example Exchange LLC",
    tin="98-7654321",
    address=Address("1 Market Street", "San Francisco", "CA", "94105"),
    accounts=("EXA-0001", "EXA-0002"),
    alternate_name="ExEx",
)
PERSON = Subject("Mann", first_name="Janice", is_entity=False, tin="123-45-6789", tin_type="SSN", accounts=("C-77",))
T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def alert(typology: str = "structuring") -> Alert:
    return Alert("AL-1", typology, ("EXA-0001",), ("t1", "t2"), 0.9, (RuleHit("structuring", 0.4, "x"),), T0)


def sar_case(typology: str = "structuring"):
    return replay(
        [
            Open("C-2026-0007", (alert(typology),), T0, "ana"),
            Assign("ana", T0, "bob"),
            Decide(Decision.SAR, ("cash deposits kept under $10,000",), datetime(2026, 11, 5, 15, tzinfo=UTC), "bob"),
        ]
    )


ACTIVITY = SuspiciousActivity(
    start=date(2026, 10, 1),
    end=date(2026, 10, 30),
    amount=Decimal("48500.50"),
    narrative="Between 1 and 30 October 2026 the subject deposited cash in amounts of $9,500 to $9,900 ...",
    filed_on=date(2026, 11, 20),
)


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def texts(root: etree._Element, path: str) -> list[str]:
    return [e.text or "" for e in root.xpath(path, namespaces=Q)]


# ------------------------------------------------------------------------------------------------------- SAR


def test_built_sar_validates_against_the_shared_xsd_with_xmlschema() -> None:
    xml = build_sar(sar_case(), FILER, (EXCHANGE, PERSON), ACTIVITY)
    schema = xmlschema.XMLSchema11(str(FINCEN / "EFL_SARXBatchSchema.xsd"))
    assert schema.is_valid(xml.decode())
    root = parse(xml)
    assert root.tag == f"{{{NS}}}EFilingBatchXML"
    assert texts(root, "f:FormTypeCode") == ["SARX"]
    assert texts(root, "f:Activity/f:Party/f:ActivityPartyTypeCode") == ["35", "37", "30", "8", "34", "33", "33"]


def test_sar_batch_totals_and_seqnums() -> None:
    xml = build_sar(sar_case(), FILER, (EXCHANGE, PERSON), ACTIVITY)
    root = parse(xml)
    assert root.get("ActivityCount") == "1"
    assert root.get("PartyCount") == "2"  # subjects only
    assert root.get("TotalAmount") == "48501"  # whole dollars, rounded up
    assert root.get("ActivityAttachmentCount") == "0" and root.get("AttachmentCount") == "0"
    assert texts(root, ".//f:TotalSuspiciousAmountText") == ["48501"]
    found = counts(root, "SARX")
    assert (found.activity_count, found.party_count, found.total_amount) == (1, 2, Decimal(48501))
    seqnums = [int(e.get("SeqNum")) for e in root.iter() if e.get("SeqNum") is not None]
    assert len(seqnums) == len(set(seqnums)) and sorted(seqnums) == list(range(1, len(seqnums) + 1))


def test_sar_carries_the_case_classifications_accounts_and_identifiers() -> None:
    root = parse(build_sar(sar_case(), FILER, (EXCHANGE,), ACTIVITY))
    box = root.xpath(".//f:SuspiciousActivityClassification", namespaces=Q)
    assert [
        (b.findtext(f"{{{NS}}}SuspiciousActivityTypeID"), b.findtext(f"{{{NS}}}SuspiciousActivitySubtypeID"))
        for b in box
    ] == [("1", "114")]  # structuring below the CTR threshold
    assert texts(root, ".//f:Account/f:AccountNumberText") == ["EXA-0001", "EXA-0002"]
    filer = root.xpath("f:Activity/f:Party[f:ActivityPartyTypeCode='30']", namespaces=Q)[0]
    ids = {
        (i.findtext(f"{{{NS}}}PartyIdentificationTypeCode"), i.findtext(f"{{{NS}}}PartyIdentificationNumberText"))
        for i in filer.findall(f"{{{NS}}}PartyIdentification")
    }
    assert ids == {("2", "134994650"), ("29", "C-2026-0007")}
    assert texts(root, ".//f:InitialReportIndicator") == ["Y"]
    assert texts(root, ".//f:SuspiciousActivityFromDateText") == ["20261001"]
    assert texts(root, "f:Activity/f:FilingDateText") == ["20261120"]


def test_network_typologies_map_to_money_laundering_subtypes() -> None:
    root = parse(build_sar(sar_case("fan_in"), FILER, (EXCHANGE,), ACTIVITY))
    assert texts(root, ".//f:SuspiciousActivitySubtypeID") == ["824", "807"]
    assert set(texts(root, ".//f:SuspiciousActivityTypeID")) == {"8"}


def test_sar_without_an_identified_suspect_reports_unavailable_subject_information() -> None:
    case = replay([Open("C-9", (alert(),), T0, "ana"), IdentifySuspect(False, T0, "ana"), Assign("ana", T0, "bob")])
    root = parse(build_sar(case, FILER, (), replace(ACTIVITY, amount=None)))
    assert root.get("PartyCount") == "1" and root.get("TotalAmount") == "0"
    assert texts(root, ".//f:AllCriticalSubjectInformationUnavailableIndicator") == ["Y"]
    assert texts(root, ".//f:AmountUnknownIndicator") == ["Y"]


def test_continuing_sar_cites_the_previous_bsa_id() -> None:
    filed = [
        Open("C-3", (alert(),), T0, "ana"),
        Assign("ana", T0, "bob"),
        Decide(Decision.SAR, ("structuring",), T0, "bob"),
        RecordFiling("a" * 64, T0, "bob", bsa_id="31000055053784"),
        ReviewContinuing(True, ("deposits continue",), datetime(2027, 2, 1, 15, tzinfo=UTC), "bob"),
    ]
    case = replay(filed)
    activity = replace(ACTIVITY, cumulative_amount=Decimal("97000"))
    root = parse(build_sar(case, FILER, (EXCHANGE,), activity))
    assert texts(root, "f:Activity/f:EFilingPriorDocumentNumber") == ["31000055053784"]
    assert texts(root, ".//f:ContinuingActivityReportIndicator") == ["Y"]
    assert texts(root, ".//f:InitialReportIndicator") == []
    assert texts(root, ".//f:CumulativeTotalViolationAmountText") == ["97000"]
    without = replay([*filed[:3], RecordFiling("a" * 64, T0, "bob"), filed[4]])
    with pytest.raises(FilingError) as info:
        build_sar(without, FILER, (EXCHANGE,), ACTIVITY)
    assert info.value.element == "EFilingPriorDocumentNumber"


def test_long_narratives_are_cut_into_blocks_and_too_long_ones_refused() -> None:
    words = "word " * 1700  # 8,500 characters
    root = parse(build_sar(sar_case(), FILER, (EXCHANGE,), replace(ACTIVITY, narrative=words)))
    blocks = texts(root, ".//f:ActivityNarrativeText")
    assert len(blocks) == 3 and all(len(b) <= 4000 for b in blocks)
    assert " ".join(blocks) == words.strip()
    assert texts(root, ".//f:ActivityNarrativeSequenceNumber") == ["1", "2", "3"]
    with pytest.raises(FilingError) as info:
        build_sar(sar_case(), FILER, (EXCHANGE,), replace(ACTIVITY, narrative="word " * 4200))
    assert info.value.element == "ActivityNarrativeText"
    with pytest.raises(FilingError, match="narrative is empty"):
        build_sar(sar_case(), FILER, (EXCHANGE,), replace(ACTIVITY, narrative="  \n "))


def test_a_case_closed_without_sar_has_no_sar() -> None:
    case = replay(
        [Open("C-4", (alert(),), T0, "ana"), Assign("ana", T0, "bob"), Decide(Decision.NO_SAR, ("ok",), T0, "bob")]
    )
    with pytest.raises(FilingError, match="closed without a SAR"):
        build_sar(case, FILER, (EXCHANGE,), ACTIVITY)


def test_a_code_outside_fincens_list_raises_naming_the_element() -> None:
    bad = replace(ACTIVITY, classifications=(Classification("1", "115"),))
    with pytest.raises(FilingError) as info:
        build_sar(sar_case(), FILER, (EXCHANGE,), bad)
    assert info.value.element == "SuspiciousActivitySubtypeID"
    assert "SuspiciousActivitySubtypeID" in str(info.value)


def test_a_subtype_under_the_wrong_type_is_refused() -> None:
    with pytest.raises(FilingError) as info:
        build_sar(sar_case(), FILER, (EXCHANGE,), replace(ACTIVITY, classifications=(Classification("8", "114"),)))
    assert info.value.element == "SuspiciousActivityTypeID" and info.value.expected == "1"
    with pytest.raises(FilingError) as info:
        build_sar(sar_case(), FILER, (EXCHANGE,), replace(ACTIVITY, classifications=(Classification("8", "8999"),)))
    assert info.value.element == "OtherSuspiciousActivityTypeText"


def test_a_value_too_long_for_its_element_raises_naming_it() -> None:
    with pytest.raises(FilingError) as info:
        build_sar(sar_case(), FILER, (replace(EXCHANGE, name="X" * 151),), ACTIVITY)
    assert info.value.element == "RawEntityIndividualLastName"


def _built_tree() -> etree._Element:
    return parse(build_sar(sar_case(), FILER, (EXCHANGE,), ACTIVITY))


def test_a_missing_required_element_is_named() -> None:
    root = _built_tree()
    activity = root.find(f"{{{NS}}}Activity")
    activity.remove(activity.find(f"{{{NS}}}FilingDateText"))
    with pytest.raises(FilingError) as info:
        validate(etree.tostring(root), "SARX")
    assert info.value.element == "FilingDateText"


def test_a_bad_party_type_code_is_named() -> None:
    root = _built_tree()
    root.xpath(".//f:ActivityPartyTypeCode", namespaces=Q)[1].text = "99"
    with pytest.raises(FilingError) as info:
        validate(root, "SARX")
    assert info.value.element == "ActivityPartyTypeCode"


def test_wrong_counts_and_duplicate_seqnums_are_refused() -> None:
    root = _built_tree()
    root.set("PartyCount", "2")
    with pytest.raises(FilingError) as info:
        validate(root, "SARX")
    assert (info.value.element, info.value.expected, info.value.found) == ("PartyCount", "1", "2")
    root = _built_tree()
    root.set("TotalAmount", "48500")
    with pytest.raises(FilingError) as info:
        validate(root, "SARX")
    assert info.value.element == "TotalAmount"
    root = _built_tree()
    seq = root.xpath(".//f:Party", namespaces=Q)
    seq[1].set("SeqNum", seq[0].get("SeqNum"))
    with pytest.raises(FilingError) as info:
        validate(root, "SARX")
    assert info.value.element == "SeqNum"


def test_same_inputs_same_bytes_and_the_hash_is_sha256_of_the_bytes() -> None:
    one = build_sar(sar_case(), FILER, (EXCHANGE,), ACTIVITY)
    two = build_sar(sar_case(), FILER, (EXCHANGE,), ACTIVITY)
    assert one == two
    assert filing_hash(one) == hashlib.sha256(one).hexdigest() and len(filing_hash(one)) == 64
    assert filing_hash(one) != filing_hash(one.replace(b"48501", b"48502"))
    with pytest.raises(TypeError):
        filing_hash(one.decode())  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------------- CTR


def ctr_activity(amount: str) -> CurrencyActivity:
    return CurrencyActivity(date(2026, 11, 2), date(2026, 11, 10), cash_in=(CashItem("55", Decimal(amount)),))


def person(amount: str) -> CtrPerson:
    return CtrPerson(PERSON, cash_in=Decimal(amount), accounts_in=("C-77",))


def test_built_ctr_validates_with_its_totals() -> None:
    xml = build_ctr(FILER, (person("10000.01"),), ctr_activity("10000.01"))
    schema = xmlschema.XMLSchema11(str(FINCEN / "EFL_CTRXBatchSchema.xsd"))
    assert schema.is_valid(xml.decode())
    root = parse(xml)
    assert texts(root, "f:FormTypeCode") == ["CTRX"]
    assert texts(root, "f:Activity/f:Party/f:ActivityPartyTypeCode") == ["35", "37", "30", "34", "8", "50"]
    assert root.get("PartyCount") == "6" and root.get("ActivityCount") == "1"
    assert root.get("TotalAmount") == "10001"
    assert texts(root, ".//f:TotalCashInReceiveAmountText") == ["10001"]
    assert texts(root, ".//f:TransactionDateText") == ["20261102"]
    assert texts(root, ".//f:Account/f:PartyAccountAssociation/f:PartyAccountAssociationTypeCode") == ["8"]
    seqnums = [e.get("SeqNum") for e in root.iter() if e.get("SeqNum") is not None]
    assert len(seqnums) == len(set(seqnums))


def test_ctr_threshold_is_more_than_ten_thousand_dollars() -> None:
    with pytest.raises(FilingError) as info:
        build_ctr(FILER, (person("10000.00"),), ctr_activity("10000.00"))
    assert "no CTR is due" in str(info.value) and info.value.found == "in 10000.00, out 0"
    assert build_ctr(FILER, (person("10000.01"),), ctr_activity("10000.01"))


def test_ctr_from_a_business_days_transactions() -> None:
    def tx(n: int, kind: str, amount: str) -> Transaction:
        return Transaction(f"t{n}", T0, "CASH", "C-77", Decimal(amount), "USD", kind, "US", "US")

    txs = [tx(1, "cash_deposit", "6000"), tx(2, "cash_deposit", "5000.50"), tx(3, "wire", "90000")]
    activity = currency_activity(txs, date(2026, 11, 2), date(2026, 11, 10))
    assert activity.cash_in == (CashItem("55", Decimal("11000.50")),) and activity.aggregated
    root = parse(build_ctr(FILER, (person("11000.50"),), activity))
    assert root.get("TotalAmount") == "11001"
    assert texts(root, ".//f:AggregateTransactionIndicator") == ["Y"]
    assert texts(root, ".//f:MultipleTransactionsPersonsIndividualsIndicator") == ["Y"]


def test_ctr_with_a_cash_out_code_on_the_cash_in_side_is_refused() -> None:
    activity = CurrencyActivity(date(2026, 11, 2), date(2026, 11, 10), cash_in=(CashItem("56", Decimal(20000)),))
    with pytest.raises(FilingError) as info:
        build_ctr(FILER, (person("20000"),), activity)
    assert info.value.element == "CurrencyTransactionActivityDetailTypeCode" and info.value.found == "56"


def test_ctr_with_a_bad_state_code_raises_naming_the_element() -> None:
    far = replace(PERSON, address=Address("1 Main St", "Springfield", "ILLINOIS", "62701"))
    with pytest.raises(FilingError) as info:
        build_ctr(FILER, (replace(person("20000"), subject=far),), ctr_activity("20000"))
    assert info.value.element == "RawStateCodeText"


# ---------------------------------------------------------------------------------- the shared FinCEN samples


@pytest.mark.parametrize(("sample", "form"), [("sar_batch.xml", "SARX"), ("ctr_batch.xml", "CTRX")])
def test_the_shared_samples_do_not_validate_their_elements_are_in_no_namespace(sample: str, form: str) -> None:
    data = (FINCEN / sample).read_bytes()
    with pytest.raises(FilingError) as info:
        validate(data, form)
    assert info.value.element == "EFilingBatchXML" and "not an element of the schema" in info.value.reason


@pytest.mark.parametrize(
    ("sample", "form", "problems"),
    [
        (
            "sar_batch.xml",
            "SARX",
            {"missing required attribute 'TotalAmount'", "'AccountCount' attribute not allowed", "FormTypeCode"},
        ),
        ("ctr_batch.xml", "CTRX", {"'SeqNum' attribute not allowed", "FormTypeCode"}),
    ],
)
def test_the_shared_samples_in_the_fincen_namespace_still_break_the_schema(
    sample: str, form: str, problems: set[str]
) -> None:
    root = etree.parse(str(FINCEN / sample)).getroot()
    for element in root.iter():
        if isinstance(element.tag, str):
            element.tag = f"{{{NS}}}{element.tag}"
    schema = xmlschema.XMLSchema11(str(FINCEN / f"EFL_{form}BatchSchema.xsd"))
    reasons = " | ".join(str(e.reason) for e in schema.iter_errors(root))
    for problem in problems:
        assert problem in reasons
    with pytest.raises(FilingError):
        validate(root, form)


def test_the_schemas_must_be_read_as_xsd_11() -> None:
    as_10 = xmlschema.XMLSchema(str(FINCEN / "EFL_SARXBatchSchema.xsd"))
    assert list(as_10.elements) == []  # vc:minVersion="1.1": an XSD 1.0 processor skips the whole schema
    as_11 = xmlschema.XMLSchema11(str(FINCEN / "EFL_SARXBatchSchema.xsd"))
    assert "EFilingBatchXML" in as_11.elements


@pytest.mark.parametrize(
    ("table", "xsd", "simple_type"),
    [
        ("SAR_ACTIVITY_TYPES", "EFL_SARXBatchSchema.xsd", "ValidateSuspiciousActivityTypeID"),
        ("SAR_ACTIVITY_SUBTYPES", "EFL_SARXBatchSchema.xsd", "ValidateSuspiciousActivitySubtypeID"),
        ("SAR_PARTY_TYPES", "EFL_SARXBatchSchema.xsd", "ValidateActivityPartyCodeType"),
        ("CTR_PARTY_TYPES", "EFL_CTRXBatchSchema.xsd", "ValidateActivityPartyCodeType"),
        ("CTR_DETAIL_TYPES", "EFL_CTRXBatchSchema.xsd", "ValidateCurrencyTransactionActvityDetailCodeType"),
        ("SAR_REGULATORS", "EFL_SARXBatchSchema.xsd", "ValidateFederalRegulatorCodeType"),
    ],
)
def test_code_tables_match_the_xsd(table: str, xsd: str, simple_type: str) -> None:
    tree = etree.parse(str(FINCEN / xsd))
    xs = {"xsd": "http://www.w3.org/2001/XMLSchema"}
    values = tree.xpath(f"//xsd:simpleType[@name='{simple_type}']//xsd:enumeration/@value", namespaces=xs)
    assert sorted(getattr(codes, table)) == sorted(values)
    for subtype in codes.SAR_ACTIVITY_SUBTYPES:
        assert codes.subtype_type(subtype) in codes.SAR_ACTIVITY_TYPES


def test_every_default_classification_is_a_valid_pair() -> None:
    for items in codes.TYPOLOGY_CLASSIFICATIONS.values():
        for item in items:
            assert item.subtype_id in codes.SAR_ACTIVITY_SUBTYPES
            assert codes.subtype_type(item.subtype_id) == item.type_id
    assert codes.Classification("1", "114").name == "Structuring: Transaction(s) below CTR threshold"


def test_an_element_the_schema_does_not_know_is_named() -> None:
    root = _built_tree()
    activity = root.find(f"{{{NS}}}Activity")
    activity.insert(2, etree.Element(f"{{{NS}}}CaseReference"))
    with pytest.raises(FilingError) as info:
        validate(root, "SARX")
    assert info.value.element == "CaseReference"


def test_activity_and_a_draft_narrative_from_the_cases_transactions() -> None:
    def tx(tx_id: str, when: datetime, amount: str) -> Transaction:
        return Transaction(tx_id, when, "CASH", "EXA-0001", Decimal(amount), "USD", "cash_deposit", "US", "US")

    txs = [
        tx("t2", datetime(2026, 10, 20, 3, 0, tzinfo=UTC), "9500.00"),  # 23:00 on 19 October in New York
        tx("t1", datetime(2026, 10, 5, 15, 0, tzinfo=UTC), "9900.50"),
        tx("t9", datetime(2026, 10, 6, 15, 0, tzinfo=UTC), "50000"),  # not the case's
    ]
    case = sar_case()
    assert [t.tx_id for t in case_transactions(case, txs)] == ["t1", "t2"]
    activity = activity_from(case, (EXCHANGE,), txs, date(2026, 11, 20))
    assert (activity.start, activity.end, activity.amount) == (
        date(2026, 10, 5),
        date(2026, 10, 19),
        Decimal("19400.50"),
    )
    assert "Example Exchange LLC (accounts EXA-0001, EXA-0002)" in activity.narrative
    assert "2 transactions (cash deposit) totalling $19,400.50" in activity.narrative
    assert "cash deposits kept under $10,000" in activity.narrative
    root = parse(build_sar(case, FILER, (EXCHANGE,), activity))
    assert root.get("TotalAmount") == "19401"
    with pytest.raises(FilingError) as info:
        activity_from(case, (EXCHANGE,), txs[2:], date(2026, 11, 20))
    assert info.value.element == "SuspiciousActivityFromDateText"
    assert draft_narrative(case, ()).startswith("The subject could not be identified.")
    # Read by FinCEN's analysts: dates written out, typologies and rules in words, never as codes or ISO dates.
    assert "Between October 5, 2026 and October 19, 2026" in activity.narrative
    assert not re.search(r"\d{4}-\d\d-\d\d", activity.narrative), activity.narrative
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", activity.narrative), activity.narrative


def test_ctr_is_due_15_calendar_days_after_the_transactions() -> None:
    assert ctr_due(date(2026, 11, 2)) == date(2026, 11, 17)
    assert ctr_due(date(2026, 12, 20)) == date(2027, 1, 4)
