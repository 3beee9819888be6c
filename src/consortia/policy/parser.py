"""
Policy Text
^^^^^^^^^^^

Policies are written in the signature-policy language of Hyperledger Fabric::

    policy    := principal
               | AND '(' policy (',' policy)* ')'
               | OR '(' policy (',' policy)* ')'
               | OutOf '(' integer ',' policy (',' policy)* ')'
               | MAJORITY '(' policy (',' policy)* ')'
    principal := a quoted 'MSPID.role', in single or double quotes

Keywords are case-insensitive and whitespace between tokens is ignored; MSP ids and roles are
case-sensitive, as in Fabric. ``AND`` needs all of its sub-policies, ``OR`` one of them,
``OutOf(n, ...)`` any ``n`` of them, and ``MAJORITY`` of ``k`` sub-policies any ``k // 2 + 1``.
All four become an :class:`~consortia.policy.tree.OutOf` node.

The parser is a recursive-descent parser over a lazy tokenizer, so the first problem reported is
the leftmost one. Policy text comes from people (operators typing channel configuration) and from
the network (configuration transactions), so every malformed input must end in a
:class:`PolicySyntaxError` that says what was expected, what was found and where -- never in an
``IndexError`` or ``RecursionError`` escaping from the parser's internals.
"""

import functools
import re
from dataclasses import dataclass

from .tree import ROLES, OutOf, Policy, Principal, SignedBy, is_msp_id, is_role

MAX_DEPTH = 32
"""How deeply operators may nest; real policies use two or three levels."""

KEYWORDS: tuple[str, ...] = ("AND", "OR", "OutOf", "MAJORITY")
"""The operators, spelled as error messages show them."""

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# ASCII digits only: str.isdigit() also accepts characters such as '²' that int() rejects.
_INTEGER = re.compile(r"-?[0-9]+")
_PUNCTUATION = "(),"
_QUOTES = "'\""
# Long enough for any sensible policy, short enough that int() never sees thousands of digits.
_MAX_INTEGER_DIGITS = 9
_MAX_SHOWN = 40


class PolicySyntaxError(ValueError):
    """Policy text that does not parse; `position` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int | None = None, text: str | None = None) -> None:
        super().__init__(message)
        self.position = position
        self.text = text


@dataclass(frozen=True)
class Token:
    """One lexical unit of policy text."""

    kind: str  # "(", ")", ",", "word", "integer", "principal" or "end"
    text: str  # for a principal, what lies between the quotes
    position: int
    end: int


def _clipped(text: str) -> str:
    """Return `text` shortened to fit in an error message."""
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _shown(text: str) -> str:
    """Return `text` quoted for an error message, shortened if long."""
    return repr(_clipped(text))


def describe(token: Token) -> str:
    """Return how an error message refers to `token`."""
    if token.kind == "end":
        return "end of input"
    return _shown(token.text)


class _Parser:
    """Recursive-descent parser over one policy text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        # Positions of the '(' not yet closed, innermost last: for "never closed" hints.
        self.open_parentheses: list[int] = []
        self._lookahead: Token | None = None

    def error(self, message: str, position: int) -> PolicySyntaxError:
        """Return the error to raise for a problem at `position`."""
        return PolicySyntaxError(message, position, self.text)

    def peek(self) -> Token:
        """Return the next token without consuming it."""
        if self._lookahead is None:
            self._lookahead = self._scan()
        return self._lookahead

    def take(self) -> Token:
        """Consume and return the next token."""
        token = self.peek()
        self.position = token.end
        self._lookahead = None
        return token

    def _scan(self) -> Token:
        """Read the token starting at the current position, after whitespace."""
        text, start = self.text, self.position
        while start < len(text) and text[start].isspace():
            start += 1
        if start == len(text):
            return Token("end", "", start, start)
        char = text[start]
        if char in _PUNCTUATION:
            return Token(char, char, start, start + 1)
        if char in _QUOTES:
            close = text.find(char, start + 1)
            if close < 0:
                raise self.error(
                    f"unterminated principal: the quote {char!r} at position {start} is never closed",
                    start,
                )
            return Token("principal", text[start + 1 : close], start, close + 1)
        match = _WORD.match(text, start) or _INTEGER.match(text, start)
        if match is not None:
            kind = "word" if char.isascii() and char.isalpha() else "integer"
            return Token(kind, match.group(), start, match.end())
        raise self.error(
            f"unexpected character {char!r} at position {start}; policies use quoted principals "
            "like 'Org1.peer', the operators AND, OR, OutOf and MAJORITY, parentheses and commas",
            start,
        )

    def parse(self) -> Policy:
        """Parse the whole text as one policy."""
        if self.peek().kind == "end":
            raise self.error(
                "empty policy: expected a quoted principal like 'Org1.peer' or an operator such as "
                "AND(...), OR(...), OutOf(n, ...) or MAJORITY(...)",
                self.peek().position,
            )
        policy = self.policy()
        token = self.peek()
        if token.kind == ")":
            raise self.error(
                f"unbalanced parentheses: ')' at position {token.position} has no matching '('",
                token.position,
            )
        if token.kind != "end":
            raise self.error(
                f"expected end of input at position {token.position}, found {describe(token)} after a complete policy",
                token.position,
            )
        return policy

    def policy(self) -> Policy:
        """Parse a principal or an operator application."""
        token = self.take()
        if token.kind == "principal":
            return SignedBy(self.principal(token))
        if token.kind == "word":
            keyword = _keyword(token.text)
            if keyword is not None:
                return self.operator(keyword, token)
            # Look at raw characters, not the next token: in an unquoted 'Org1.peer' the '.'
            # is not a token, and the better message names the missing quotes.
            following = self.text[token.end :].lstrip()[:1]
            if following == "(":
                raise self.error(
                    f"unknown operator {_shown(token.text)} at position {token.position}; "
                    f"expected one of {', '.join(KEYWORDS)}",
                    token.position,
                )
            hint = "; principals must be quoted, e.g. 'Org1.peer'" if following == "." else ""
            raise self.error(
                f"expected a policy at position {token.position}, found {describe(token)}{hint}",
                token.position,
            )
        if token.kind == ")" and not self.open_parentheses:
            raise self.error(
                f"unbalanced parentheses: ')' at position {token.position} has no matching '('",
                token.position,
            )
        hint = self.unclosed_hint(token)
        if token.kind == ")":
            hint = " (an empty argument or a trailing comma?)"
        elif token.kind == "(":
            hint = " (parentheses only follow AND, OR, OutOf or MAJORITY)"
        raise self.error(
            f"expected a policy (a quoted principal like 'Org1.peer' or AND/OR/OutOf/MAJORITY) "
            f"at position {token.position}, found {describe(token)}{hint}",
            token.position,
        )

    def unclosed_hint(self, token: Token) -> str:
        """Return a note on the unclosed '(' when `token` is the premature end of input."""
        if token.kind != "end" or not self.open_parentheses:
            return ""
        return f" (unbalanced parentheses: '(' at position {self.open_parentheses[-1]} is never closed)"

    def principal(self, token: Token) -> Principal:
        """Check the text between a principal's quotes and build the principal."""
        content = token.text
        quote = self.text[token.position]
        shown = f"{quote}{content}{quote}"
        other_quote = "'" if quote == '"' else '"'
        if other_quote in content:
            # 'Org1.peer" , 'Org2.peer' is one principal to the tokenizer; say what went wrong.
            inner = token.position + 1 + content.index(other_quote)
            raise self.error(
                f"mismatched quotes: the principal opened with {quote!r} at position {token.position} "
                f"contains {other_quote!r} at position {inner}",
                inner,
            )
        if content.count(".") != 1:
            raise self.error(
                f"invalid principal {_shown(shown)} at position {token.position}: expected "
                "'MSPID.role' with exactly one '.', e.g. 'Org1.peer'",
                token.position,
            )
        org, _, role = content.partition(".")
        if not org:
            raise self.error(
                f"missing MSP id in principal {_shown(shown)} at position {token.position}: "
                "expected 'MSPID.role', e.g. 'Org1.peer'",
                token.position,
            )
        if not is_msp_id(org):
            raise self.error(
                f"invalid MSP id {_shown(org)} in principal at position {token.position + 1}: an MSP id "
                "must start with a letter and contain only letters, digits, '-' and '_'",
                token.position + 1,
            )
        if not is_role(role):
            role_position = token.position + 2 + len(org)
            hint = " (roles are lowercase)" if role.lower() in ROLES or is_role(role.lower()) else ""
            raise self.error(
                f"unknown role {_shown(role)} in principal at position {role_position}: "
                f"valid roles are {', '.join(ROLES)}, or role:NAME for identities whose certificate's "
                f"role attribute is NAME (e.g. 'Bank.role:analyst'){hint}",
                role_position,
            )
        return Principal(org, role)

    def operator(self, keyword: str, name: Token) -> Policy:
        """Parse the parenthesised arguments of `keyword` and build its node."""
        opening = self.take()
        if opening.kind != "(":
            raise self.error(
                f"expected '(' after {keyword} at position {opening.position}, found {describe(opening)}",
                opening.position,
            )
        self.open_parentheses.append(opening.position)
        # Bounding the depth keeps recursion far from Python's limit, so no RecursionError escapes.
        if len(self.open_parentheses) > MAX_DEPTH:
            raise self.error(
                f"policy nests more than {MAX_DEPTH} operators deep at position {name.position}",
                name.position,
            )
        threshold: Token | None = None
        if keyword == "OutOf":
            threshold = self.take()
            if threshold.kind != "integer":
                raise self.error(
                    f"expected the OutOf threshold (an integer) at position {threshold.position}, "
                    f"found {describe(threshold)}",
                    threshold.position,
                )
            comma = self.take()
            if comma.kind != ",":
                hint = " (OutOf needs at least one sub-policy)" if comma.kind == ")" else ""
                raise self.error(
                    f"expected ',' after the OutOf threshold at position {comma.position}, "
                    f"found {describe(comma)}{hint}",
                    comma.position,
                )
        elif self.peek().kind == ")":
            raise self.error(
                f"empty {keyword}(): expected at least one policy at position {self.peek().position}, found ')'",
                self.peek().position,
            )
        rules = [self.policy()]
        while True:
            token = self.take()
            if token.kind == ")":
                break
            if token.kind != ",":
                raise self.error(
                    f"expected ',' or ')' at position {token.position}, found {describe(token)}"
                    f"{self.unclosed_hint(token)}",
                    token.position,
                )
            rules.append(self.policy())
        self.open_parentheses.pop()
        return OutOf(self.threshold(keyword, threshold, len(rules)), tuple(rules))

    def threshold(self, keyword: str, token: Token | None, count: int) -> int:
        """Return how many of `count` sub-policies `keyword` requires."""
        if keyword == "AND":
            return count
        if keyword == "OR":
            return 1
        if keyword == "MAJORITY":
            return count // 2 + 1
        assert token is not None
        digits = token.text.lstrip("-").lstrip("0")
        n = int(token.text) if len(digits) <= _MAX_INTEGER_DIGITS else None
        if n is None or not 1 <= n <= count:
            raise self.error(
                f"OutOf threshold {_clipped(token.text)} at position {token.position} is out of range: "
                f"with {_sub_policies(count)} it must be between 1 and {count}",
                token.position,
            )
        return n


def _sub_policies(count: int) -> str:
    """Return "1 sub-policy", "2 sub-policies" and so on."""
    return f"{count} sub-polic{'y' if count == 1 else 'ies'}"


def _keyword(word: str) -> str | None:
    """Return the operator `word` names, whatever its case, or None."""
    upper = word.upper()
    for keyword in KEYWORDS:
        if keyword.upper() == upper:
            return keyword
    return None


def parse_policy(text: str) -> Policy:
    """Parse policy text such as ``AND('Org1.peer', 'Org2.peer')`` into a policy tree."""
    if not isinstance(text, str):
        hint = "; decode bytes first" if isinstance(text, bytes | bytearray) else ""
        raise TypeError(f"policy text must be a str, not {type(text).__name__}{hint}")
    return _Parser(text).parse()


@functools.lru_cache(maxsize=1024)
def _parse_policy_cached(text: str) -> Policy:
    return parse_policy(text)


def parse_policy_cached(text: str) -> Policy:
    """Parse policy text, remembering recent results for hot paths such as validation."""
    # Checked before the cache so unhashable input gets our message, not lru_cache's.
    if not isinstance(text, str):
        return parse_policy(text)
    return _parse_policy_cached(text)
