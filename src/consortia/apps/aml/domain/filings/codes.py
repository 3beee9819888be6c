"""FinCEN's code lists for the SAR and CTR batch files, by their names, and what our typologies map to.

The tables are FinCEN's enumerations (value → the name in the schema's documentation), copied from the shared
XSDs (``EFL_SARXBatchSchema.xsd``, ``EFL_CTRXBatchSchema.xsd`` v1.2) so that a page can show a code by its name
without reading the schema; ``tests/aml/test_filings.py`` compares each table with the XSD, so a new schema
version that changes a list fails a test instead of a filing. The names are FinCEN's, typos included.

:data:`TYPOLOGY_CLASSIFICATIONS` is ours: for each typology of the monitoring engine, the SAR "type of suspicious
activity" (Part II items 26–38 of the FinCEN SAR) with its subtype that describes it — structuring under the
CTR threshold is ``1``/``114``; funds moved through many accounts is money laundering, "suspicious use of
multiple accounts" ``8``/``807``, and so on. The BSA officer may choose others; these are the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

SAR_ACTIVITY_TYPES: dict[str, str] = {
    "1": "Structuring",
    "12": "Gaming activities",
    "3": "Fraud",
    "4": "Identification documentation",
    "5": "Insurance",
    "6": "Securities/Futures/Options",
    "7": "Terrorist financing",
    "8": "Money laundering",
    "9": "Other suspicious activities",
    "10": "Mortgage Fraud",
    "11": "Cyber event",
}

SAR_ACTIVITY_SUBTYPES: dict[str, str] = {
    "106": "Suspicious inquiry by customer regarding BSA reporting or recordkeeping requirements",
    "111": "Alters or cancels transaction to avoid BSA recordkeeping requirement",
    "112": "Alters or cancels transaction to avoid CTR requirement",
    "113": "Transaction(s) below BSA recordkeeping threshold",
    "114": "Transaction(s) below CTR threshold",
    "301": "Check",
    "304": "Consumer Loan",
    "305": "Credit/Debit Card",
    "308": "Mail",
    "309": "Mass-marketing",
    "310": "Pyramid scheme",
    "312": "Wire transfer",
    "320": "ACH",
    "321": "Business loan",
    "322": "Advance fee",
    "323": "Healthcase/Public or private health insurance",
    "324": "Ponzi scheme",
    "325": "Securities fraud",
    "401": "Changes spelling or arrangement of name",
    "402": "Multiple individuals with same or similar identities",
    "403": "Provided questionable or false documentation",
    "404": "Refused or avoided request for documentation",
    "405": "Single individual with multiple identities",
    "409": "Provided questionable or false identification",
    "501": "Excessive insurance",
    "502": "Excessive or unusal cash borrowing against policy/annuity",
    "504": "Proceeds sent to unrelated third party",
    "505": "Suspicious life settlement sales insurance (e.g., STOLI's, Viaticals)",
    "506": "Suspicious termination of policy or contract",
    "507": "Unclear or no insurable interest",
    "601": "Insider trading",
    "603": "Misappropriation",
    "604": "Unauthorized pooling",
    "608": "Market manipulation",
    "609": "Wash trading",
    "701": "Known or suspected terrorist/terrorist organization",
    "801": "Exchanges small bills for large bills or vice versa",
    "804": "Suspicious designation of beneficiaries, assignees or joint owners",
    "805": "Suspicious EFT/wire transfers",
    "806": "Suspicious receipt of government payments/benefits",
    "807": "Suspicious use of multiple accounts",
    "808": "Suspicious use of noncash monetary instruments",
    "809": "Suspicious use of third-party transactors (straw-man)",
    "812": "Transaction out of pattern for customer(s)",
    "820": "Suspicious concerning the physical condition of funds",
    "821": "Suspicious concerning the source of funds",
    "822": "Suspicious exchange of currencies",
    "823": "Trade Based Money Laundering/Black Market Peso Exchange",
    "824": "Funnel account",
    "901": "Bribery or gratuity",
    "903": "Embezzlement/theft/disappearance of funds",
    "904": "Forgeries",
    "905": "Identity theft",
    "907": "Suspected public/private corruption (domestic)",
    "908": "Suspected public/private corruption (foreign)",
    "909": "Suspicious use of informal value transfer system",
    "910": "Suspicious use of multiple locations",
    "911": "Two or more individuals working together",
    "913": "Unlicensed or unregistered MSB",
    "917": "Counterfeit Instrument (other)",
    "920": "Account takeover",
    "921": "Elder financial exploitation",
    "922": "Little or no concern for product performance penalites, fees, or tax consequences",
    "924": "Misuse of position or self-dealing",
    "925": "Transaction with no apparent economic, business, or lawful purpose",
    "926": "Human smuggling",
    "927": "Human trafficking",
    "928": "Transaction(s) involving foreign high risk jurisdiction",
    "1001": "Appraisal fraud",
    "1003": "Loan Modification fraud",
    "1005": "Application fraud",
    "1006": "Foreclosure/Short sale fraud",
    "1007": "Origination fraud",
    "1101": "Against financial institution(s)",
    "1102": "Against financial institution customer(s)",
    "1201": "Chip walking",
    "1202": "Minimal gaming with large transactions",
    "1203": "Suspicious use of counter checks or markers",
    "1204": "Unknown source of chips",
    "1999": "Other",
    "3999": "Other",
    "4999": "Other",
    "5999": "Other",
    "6999": "Other",
    "7999": "Other",
    "8999": "Other",
    "9999": "Other",
    "10999": "Other",
    "11999": "Other",
    "12999": "Other",
}

SAR_PARTY_TYPES: dict[str, str] = {
    "35": "Transmitter",
    "37": "Transmitter Contact",
    "30": "Reporting financial institution",
    "33": "Subject",
    "34": "Transaction location business",
    "8": "Contact for assistance",
    "46": "Transaction location branch",
    "18": "Law enforcement or regulator contact",
    "19": "Name of person contacted at Law enforcement or regulator",
    "41": "Financial Institution in which account is held",
}

CTR_PARTY_TYPES: dict[str, str] = {
    "35": "Transmitter",
    "37": "Transmitter Contact",
    "30": "Reporting financial institution",
    "34": "Transaction location business",
    "50": "Person conducting transaction on own behalf",
    "17": "Person conducting transaction for another",
    "23": "Person on whose behalf this transaction was conducted",
    "58": "Common carrier",
    "8": "Contact for assistance",
}

SAR_REGULATORS: dict[str, str] = {
    "9": "CFTC",
    "1": "Federal Reserve",
    "2": "FDIC",
    "7": "IRS",
    "3": "NCUA",
    "4": "OCC",
    "6": "SEC",
    "13": "FHFA",
    "99": "Not applicable",
}

CTR_REGULATORS: dict[str, str] = {
    "9": "CFTC",
    "1": "Federal Reserve",
    "2": "FDIC",
    "7": "IRS",
    "3": "NCUA",
    "4": "OCC",
    "6": "SEC",
    "14": "Unknown",
}

CTR_DETAIL_TYPES: dict[str, str] = {
    "55": "Deposit(s)",
    "46": "Payment(s)",
    "23": "Currency received from wire transfer(s) out",
    "12": "Negotiable instrument(s) purchased",
    "14": "Currency exchange in",
    "49": "Currency to prepaid access",
    "18": "Purchase(s) of casino chips, tokens, and other gaming instruments",
    "21": "Currency wager(s) (including money plays)",
    "25": "Bills inserted into gaming devices",
    "997": "Other cash in",
    "56": "Withdrawal(s)",
    "30": "Advance(s) on credit (including markers)",
    "32": "Currency paid from wire transfer(s) in",
    "13": "Negotiable instrument(s) cashed",
    "15": "Currency exchange out",
    "48": "Currency from prepaid access",
    "28": "Redemption(s) of casino chips, tokens, TITO tickets, and other gaming instruments",
    "31": "Payment(s) on wager(s)/bet(s) (Including race book, slot jackpot(s) and OTB or sports pool)",
    "33": "Travel and complimentary expenses and gaming incentives",
    "34": "Payment for tournament, contest or other promotions",
    "998": "Other cash out",
    "53": "Foreign currency in",
    "54": "Foreign currency out",
}

ORGANIZATION_TYPES: dict[str, str] = {
    "1": "Casino/Card club",
    "2": "Depository institution",
    "3": "Insurance company",
    "4": "Money Services Business (MSB)",
    "5": "Securities/Futures",
    "11": "Loan or Finance Company",
    "12": "Housing GSE",
    "999": "Other",
}

PARTY_IDENTIFICATION_TYPES: dict[str, str] = {
    "1": "SSN/ITIN",
    "2": "EIN",
    "4": "TIN",
    "5": "Driver's license/State ID",
    "6": "Passport",
    "7": "Alien registration",
    "9": "Foreign",
    "10": "CRD number",
    "11": "IARD number",
    "12": "NFA ID number",
    "13": "SEC number",
    "14": "RSSD number",
    "28": "Transmitter Control Code",
    "32": "NAIC number",
    "33": "NMLS Id number",
    "29": "Internal Control Number",
    "999": "Other",
}

SUBJECT = "33"
TRANSMITTER = "35"
TRANSMITTER_CONTACT = "37"
FILING_INSTITUTION = "30"
CONTACT_OFFICE = "8"
TRANSACTION_LOCATION = "34"
ACCOUNT_INSTITUTION = "41"
PERSON_OWN_BEHALF = "50"
PERSON_FOR_ANOTHER = "17"
PERSON_ON_WHOSE_BEHALF = "23"
CTR_PERSON_TYPES = frozenset({PERSON_OWN_BEHALF, PERSON_FOR_ANOTHER, PERSON_ON_WHOSE_BEHALF, "58"})

EIN = "2"
SSN_ITIN = "1"
TIN = "4"
TCC = "28"
INTERNAL_CONTROL_NUMBER = "29"
TIN_TYPES = {"EIN": EIN, "SSN": SSN_ITIN, "ITIN": SSN_ITIN}

DEPOSITORY_INSTITUTION = "2"
OCC = "4"

DEPOSITS = "55"
WITHDRAWALS = "56"
CASH_IN_DETAIL_TYPES = frozenset({"55", "46", "23", "12", "14", "49", "18", "21", "25", "997", "53"})
CASH_OUT_DETAIL_TYPES = frozenset({"56", "30", "32", "13", "15", "48", "28", "31", "33", "34", "998", "54"})

ACTIVITY_AFFECTED_ACCOUNT = "7"
INSTITUTION_OF_ACCOUNT = "5"
CTR_ACCOUNT_CASH_IN = "8"
CTR_ACCOUNT_CASH_OUT = "9"


def subtype_type(subtype: str) -> str:
    """The activity type a subtype belongs to: ``114`` → ``1``, ``1001`` → ``10``, ``8999`` (other) → ``8``."""
    number = int(subtype)
    return str(number // 1000 if subtype.endswith("999") else number // 100)


def is_other(subtype: str) -> bool:
    """Whether a subtype is an "Other" (``z``) box, which needs a description."""
    return subtype.endswith("999")


@dataclass(frozen=True)
class Classification:
    """One checked box of the SAR: the activity type and its subtype (with a description for "Other")."""

    type_id: str
    subtype_id: str
    other_text: str = ""

    @property
    def name(self) -> str:
        """The subtype's name, prefixed by its type (e.g. ``Structuring: Transaction(s) below CTR threshold``)."""
        kind = SAR_ACTIVITY_TYPES.get(self.type_id, self.type_id)
        sub = self.other_text if is_other(self.subtype_id) and self.other_text else None
        return f"{kind}: {sub or SAR_ACTIVITY_SUBTYPES.get(self.subtype_id, self.subtype_id)}"


TYPOLOGY_CLASSIFICATIONS: dict[str, tuple[Classification, ...]] = {
    "structuring": (Classification("1", "114"),),
    "fan_in": (Classification("8", "824"), Classification("8", "807")),
    "fan_out": (Classification("8", "807"), Classification("8", "805")),
    "cycle": (Classification("8", "807"), Classification("9", "925")),
    "bipartite": (Classification("8", "807"), Classification("9", "911")),
    "stack": (Classification("8", "807"), Classification("8", "805")),
    "scatter_gather": (Classification("8", "807"), Classification("8", "809")),
    "gather_scatter": (Classification("8", "807"), Classification("8", "809")),
    "random": (Classification("8", "807"),),
    "network": (Classification("8", "807"), Classification("8", "805")),
    "layering": (Classification("8", "807"), Classification("8", "805")),
    "rapid_movement": (Classification("8", "805"), Classification("9", "925")),
    "velocity_spike": (Classification("8", "812"),),
    "dormant_reactivation": (Classification("8", "812"),),
    "high_risk_jurisdiction": (Classification("9", "928"),),
    "round_amounts": (Classification("9", "925"),),
}
"""Default SAR classifications per typology name of the monitoring engine."""

OTHER_MONEY_LAUNDERING = Classification("8", "8999", "Unusual pattern raised by transaction monitoring")


def classifications_for(typologies: tuple[str, ...] | list[str]) -> tuple[Classification, ...]:
    """The default classifications of a case's typologies, each subtype once, in a stable order."""
    seen: dict[str, Classification] = {}
    for typology in sorted(typologies):
        for classification in TYPOLOGY_CLASSIFICATIONS.get(typology, (OTHER_MONEY_LAUNDERING,)):
            seen.setdefault(classification.subtype_id, classification)
    return tuple(seen.values())
