"""The command line's words for what workflow/ reports as typed data: catalog import problems and
summaries, `verify`'s verdicts; in the operator's language (the provider's LOCALE when it is set and valid,
else English)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from i18n import N_, Language, LocaleError, english, language, shipped
from i18n.domain import ROLES
from workflow import people
from workflow.catalog import ImportReport
from workflow.document import Outcome
from workflow.order_import import OrdersReport
from workflow.sheets import Problem, SheetError, Trouble
from workflow.verification import Finding, Verdict
from workflow.vocabulary import CatalogKind, Role


def cli_language(env: Mapping[str, str] | None = None) -> Language:
    """The operator's language: LOCALE's when it names a language we ship; else English (a bad LOCALE is
    reported by the commands that use it, in English)."""
    name = (os.environ if env is None else env).get("LOCALE", "").strip()
    try:
        return language(str(shipped(name))) if name else english()
    except LocaleError:
        return english()


TROUBLES = {
    Trouble.CANNOT_READ: N_("cannot read it ({reason})."),
    Trouble.EMPTY: N_("the file is empty; its first line must be the header {header}"),
    Trouble.NO_ROWS: N_("no rows after the header; nothing to import"),
    Trouble.HEADER: N_("the header must be {header} (then optionally {optional}), not {found}"),
    Trouble.NUL_BYTE: N_("holds a NUL byte: a catalog is text (is this a binary file?)"),
    Trouble.NOT_UTF8: N_("not UTF-8 text ({reason}); save the file as CSV UTF-8"),
    Trouble.LINE_TOO_LONG: N_("longer than {limit} characters; a catalog row is a few hundred"),
    Trouble.FIELD_TOO_LONG: N_("a field is longer than {limit} characters (a quote left open?)"),
    Trouble.MALFORMED: N_("not a CSV row ({detail})"),
    Trouble.FIELD_COUNT: N_("{count} fields, expected {expected}"),
    Trouble.KIND: N_("kind '{kind}' is not one of {kinds}"),
    Trouble.CODE: N_("code '{code}' must be 1-64 letters, digits, '.', '_', '/' or '-'"),
    Trouble.NAME: N_("name must be 1-200 characters"),
    Trouble.NEEDS_UNIT: N_("a {kind} needs a unit (1-32 characters), e.g. h, m, bag"),
    Trouble.NO_UNIT: N_("a {kind} has no unit or unit_price; leave them empty"),
    Trouble.SITE_NEEDS_PARENT: N_("a site needs its client's code in 'parent'"),
    Trouble.ONLY_SITE_PARENT: N_("only a site has a parent"),
    Trouble.ONLY_SITE_ADDRESS: N_("only a site has an address (at most 300 characters)"),
    Trouble.ONLY_CLIENT_CONTACT: N_("only a client has a contact (at most 200 characters)"),
    Trouble.PRICE_NEGATIVE: N_("unit_price '{price}' must be 0 or more"),
    Trouble.PRICE_NOT_NUMBER: N_("unit_price '{price}' is not a number (use digits and a dot: 1000 or 12.50)"),
    Trouble.PRICE_DECIMALS: N_("unit_price '{price}' must be 0 or more, with at most 4 decimals"),
    Trouble.PRICE_TOO_HIGH: N_("unit_price '{price}' must be at most {most}"),
    Trouble.ORPHAN: N_("parent '{parent}' is not a client code (in this file or already imported)"),
    Trouble.REPEATED: N_("{kind} '{code}' already appears on line {first}"),
    Trouble.PRICE_NEEDS_CLIENT: N_("a price needs its client's code in 'parent'"),
    Trouble.UNKNOWN_ITEM: N_("code '{code}' is not a service or material code (in this file or already imported)"),
    Trouble.ONLY_CLIENT_SITE_PEOPLE: N_("only a client or a site names people in '{column}'"),
    Trouble.PERSON: N_("'{value}' in '{column}' is neither a Slack member id (like U012AB3CD) nor an e-mail"),
    Trouble.UNKNOWN_EMAIL: N_("no one in the Slack workspace has the e-mail {email} (in '{column}')"),
    Trouble.TOO_MANY_PEOPLE: N_("'{column}' names more than {most} people"),
    Trouble.EMAILS_NEED_SLACK: N_("names {email} by e-mail: looking people up in Slack needs SLACK_BOT_TOKEN (and "
                                  "SLACK_API_URL if not Slack's own); set it, or write member ids instead"),
    # the orders import's
    Trouble.ORDER_HEADER: N_("the header must be {header}, not {found}"),
    Trouble.ORDER_NOT_XLSX: N_("not an .xlsx workbook (save it from the spreadsheet as Excel Workbook, or as CSV "
                               "UTF-8 named .csv)"),
    Trouble.ORDER_REFERENCE: N_("the reference must be 1-{most} characters"),
    Trouble.ORDER_REFERENCE_TWICE: N_("reference '{reference}' already appears on line {first}"),
    Trouble.ORDER_DATE: N_("requested_date '{value}' is not a date (YYYY-MM-DD, or a date cell)"),
    Trouble.ORDER_PRIORITY: N_("priority '{value}' is not one of {priorities}"),
    Trouble.ORDER_DESCRIPTION: N_("the description must be 1-{most} characters"),
    Trouble.ORDER_NO_ITEMS: N_("no items: write them as CODE xQUANTITY separated by ';' (HVAC-MNT x2; CEM-25 x10)"),
    Trouble.ORDER_TOO_MANY_ITEMS: N_("more than {most} items on one order"),
    Trouble.ORDER_ITEM: N_("item '{item}' must be CODE xQUANTITY, the quantity above 0 and at most {most}, with at "
                           "most 3 decimals"),
    Trouble.ORDER_NOT_REQUESTER: N_("{user} does not hold the requester role; grant it with `service-orders roles "
                                    "grant {user} requester`"),
    Trouble.ORDER_CLIENT: N_("client '{code}' is not a client code of the catalog"),
    Trouble.ORDER_SITE: N_("site '{code}' is not a site code of the catalog"),
    Trouble.ORDER_SITE_CLIENT: N_("site '{site}' is not a site of client '{client}'"),
    Trouble.ORDER_DATE_PAST: N_("requested_date {date} is in the past"),
    Trouble.ORDER_DATE_FAR: N_("requested_date {date} is too far ahead: {latest} at the latest"),
    Trouble.ORDER_ITEM_UNKNOWN: N_("item '{code}' is not a service or material code of the catalog"),
    Trouble.ORDER_ITEM_TWICE: N_("item '{code}' appears twice on the row"),
    Trouble.ORDER_OVER_CEILING: N_("the order comes to {amount}, above the limit of {ceiling}"),
    Trouble.ORDER_FIELD: N_("'{field}' is not valid"),
}


def orders_summary(lang: Language, report: OrdersReport) -> str:
    """'Created 998 orders pending approval. 2 were already there (same reference).'"""
    said = lang.n_("Created {count} order pending approval.", "Created {count} orders pending approval.",
                   report.created).format(count=lang.number(report.created))
    if report.existing:
        said += " " + lang.n_("{count} was already there (same reference).",
                              "{count} were already there (same reference).",
                              report.existing).format(count=lang.number(report.existing))
    return said


def problem_line(lang: Language, path: object, problem: Problem) -> str:
    """'catalog.csv: line 3: name must be 1-200 characters'. Line numbers are an editor's: never grouped."""
    said = lang._(TROUBLES[problem.trouble]).format(**problem.values)
    if problem.line is None:
        return lang._("{path}: {problem}").format(path=path, problem=said)
    return lang._("{path}: line {line}: {problem}").format(path=path, line=problem.line, problem=said)


def sheet_error(lang: Language, error: SheetError) -> list[str]:
    """Each listed problem on a line of its own, then how many more there are."""
    lines = [problem_line(lang, error.path, problem) for problem in error.problems]
    if error.more:
        lines.append(lang.n_("and {count} more problem", "and {count} more problems",
                             error.more).format(count=lang.number(error.more)))
    return lines


# "3 new clients", by kind, in the catalog's order
_NEW = {
    CatalogKind.CLIENT: lambda lang, n: lang.n_("{count} new client", "{count} new clients", n),
    CatalogKind.SITE: lambda lang, n: lang.n_("{count} new site", "{count} new sites", n),
    CatalogKind.SERVICE: lambda lang, n: lang.n_("{count} new service", "{count} new services", n),
    CatalogKind.MATERIAL: lambda lang, n: lang.n_("{count} new material", "{count} new materials", n),
    CatalogKind.PRICE: lambda lang, n: lang.n_("{count} new client price", "{count} new client prices", n),
}


def import_summary(lang: Language, report: ImportReport) -> str:
    """'Imported 3 new clients, 4 new sites; of 2 already in the catalog, 1 updated and 1 unchanged.'"""
    new = [_NEW[kind](lang, report.created[kind]).format(count=lang.number(report.created[kind]))
           for kind in CatalogKind if report.created.get(kind)]
    what = ", ".join(new) if new else lang._("nothing new")
    existing = sum(report.existing.values())
    if not existing:
        said = lang._("Imported {new}.").format(new=what)
    else:
        said = lang._("Imported {new}; of {existing} already in the catalog, {updated} updated and {unchanged} "
                      "unchanged.").format(new=what, existing=lang.number(existing),
                                           updated=lang.number(report.changed),
                                           unchanged=lang.number(existing - report.changed))
    if report.routed:
        said += " " + lang.n_("{count} client or site names its supervisors or coordinators.",
                              "{count} clients and sites name their supervisors or coordinators.",
                              report.routed).format(count=lang.number(report.routed))
    return said


def routing_notes(lang: Language, report: ImportReport) -> list[str]:
    """A line per person the file names for a role they do not hold: stored, but not routed to until then."""
    return [lang._("note: {user} is named as {role} but does not hold that role; grant it with "
                   "`service-orders roles grant {user} {code}`").format(user=user, role=lang._(ROLES[role]),
                                                                       code=role.value)
            for role, user in report.without_role]


PEOPLE = {
    people.Trouble.ROLE: N_("{value} is not a role; roles are: {roles}"),
    people.Trouble.USER_ID: N_("{value} is not a Slack user id (like U012AB3CD; find it in the user's profile, under "
                               "⋮ > Copy member ID)"),
}


def people_problem(lang: Language, error: people.PeopleError) -> str:
    """The value as typed, quoted; the roles as they are typed (codes, not words)."""
    return lang._(PEOPLE[error.trouble]).format(value=repr(error.value), roles=", ".join(role.value for role in Role))


FINDINGS = {
    Finding.NO_STAMP: N_("DOES NOT MATCH: {name} is not a service-order PDF (it carries no order stamp)."),
    Finding.NOT_ISSUED: N_("DOES NOT MATCH: {name} claims to be {number} version {version}, but this database has "
                           "no such issued version."),
    Finding.OTHER_FINGERPRINT: N_("DOES NOT MATCH: {name} claims to be {number} version {version} with fingerprint "
                                  "{claimed}, but the recorded version's fingerprint is {recorded}: it is not that "
                                  "version."),
    Finding.CHANGED: N_("DOES NOT MATCH: {name} carries the stamp of {number} version {version}, but its bytes "
                        "differ from the PDF that was issued: it was changed after it was issued."),
    Finding.GENUINE: N_("MATCHES: {name} is {number} version {version}, issued {issued} UTC, and is exactly the PDF "
                        "that was issued (fingerprint {fingerprint})."),
    Finding.NOT_SIGNED: N_("DOES NOT MATCH: {name} claims to be the client's signed copy of {number} version "
                           "{version}, but this database has no such signed copy."),
    Finding.SIGNED_CHANGED: N_("DOES NOT MATCH: {name} carries the stamp of the client's signed copy of {number} "
                               "version {version}, but its bytes differ from that signed copy: it was changed."),
}
# a genuine signed copy, by what the client did
GENUINE_SIGNED = {
    Outcome.ACCEPTED: N_("MATCHES: {name} is the signed copy of {number} version {version}, accepted by {signer} on "
                   "{signed} UTC, and is exactly that signed copy (fingerprint {fingerprint})."),
    Outcome.DISPUTED: N_("MATCHES: {name} is the signed copy of {number} version {version}, disputed by {signer} on "
                   "{signed} UTC, and is exactly that signed copy (fingerprint {fingerprint})."),
}


def verdict_text(lang: Language, verdict: Verdict) -> str:
    values = dict(verdict.values)
    if "issued_at" in values:  # as a log would have it, in UTC: an operator compares it with records
        values["issued"] = f"{values.pop('issued_at'):%Y-%m-%d %H:%M}"
    if verdict.finding is Finding.GENUINE_SIGNED:
        values["signed"] = f"{values.pop('signed_at'):%Y-%m-%d %H:%M}"
        return lang._(GENUINE_SIGNED.get(values["outcome"], GENUINE_SIGNED[Outcome.ACCEPTED])).format(**values)
    return lang._(FINDINGS[verdict.finding]).format(**values)
