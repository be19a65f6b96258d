"""Refusing direct identifiers in participant data.

Participants are pseudonymous: the service stores a label such as "P07" and
socio-demographic attributes, never who the person is. These checks catch the
obvious mistakes (an ``email`` column in a spreadsheet, a phone number typed as a
label); they cannot prove that free text is anonymous.

Pure functions: no FastAPI, no database.
"""

from __future__ import annotations

import re

# Attribute names are compared after lower-casing and removing spaces, dashes,
# underscores and dots, so "Date of Birth", "date-of-birth" and "DOB" all match.
_EXACT: dict[str, str] = {
    "name": "a name",
    "names": "a name",
    "initials": "a name",
    "nickname": "a name",
    "tel": "a phone number",
    "mobile": "a phone number",
    "cell": "a phone number",
    "zip": "an address",
    "dob": "a date of birth",
    "birthday": "a date of birth",
    "ssn": "a national identification number",
    "nino": "a national identification number",
    "nhs": "a national identification number",
    "nhsno": "a national identification number",
    "mrn": "a medical record number",
}
# Any attribute name containing one of these is refused.
_STEMS: dict[str, str] = {
    "firstname": "a name",
    "lastname": "a name",
    "fullname": "a name",
    "middlename": "a name",
    "maidenname": "a name",
    "surname": "a name",
    "forename": "a name",
    "givenname": "a name",
    "familyname": "a name",
    "participantname": "a name",
    "patientname": "a name",
    "email": "an email address",
    "phonenumber": "a phone number",
    "telephone": "a phone number",
    "mobilephone": "a phone number",
    "homephone": "a phone number",
    "workphone": "a phone number",
    "mobilenumber": "a phone number",
    "cellnumber": "a phone number",
    "address": "an address",
    "postcode": "an address",
    "postalcode": "an address",
    "zipcode": "an address",
    "dateofbirth": "a date of birth",
    "birthdate": "a date of birth",
    "nhsnumber": "a national identification number",
    "healthnumber": "a national identification number",
    "healthcarenumber": "a national identification number",
    "insurancenumber": "a national identification number",
    "socialsecurity": "a national identification number",
    "medicalrecord": "a medical record number",
    "hospitalnumber": "a medical record number",
    "patientnumber": "a medical record number",
    "passport": "a national identification number",
}
# Refused when they stand as a word of the name ("patient_dob", "phone (home)"), but
# not inside another word ("smartphone_use" is a legitimate attribute).
_WORDS: dict[str, str] = {
    "phone": "a phone number",
    "tel": "a phone number",
    "dob": "a date of birth",
    "ssn": "a national identification number",
    "nino": "a national identification number",
    "mrn": "a medical record number",
}

_SEPARATORS = re.compile(r"[\s\-_.]+")
_WORD_SEPARATORS = re.compile(r"[^a-z0-9]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE_CHARACTERS = re.compile(r"[\d\s().+\-/]+")


def normalise_name(name: str) -> str:
    return _SEPARATORS.sub("", name).lower()


def identifier_kind(attribute: str) -> str | None:
    """What direct identifier an attribute name suggests ("an email address"), or None."""
    flat = normalise_name(attribute)
    if flat in _EXACT:
        return _EXACT[flat]
    for stem, kind in _STEMS.items():
        if stem in flat:
            return kind
    words = _WORD_SEPARATORS.split(re.sub(r"([a-z])([A-Z])", r"\1 \2", attribute).lower())
    for word in words:
        if word in _WORDS:
            return _WORDS[word]
    return None


def looks_like_email(value: str) -> bool:
    return _EMAIL.search(value) is not None


def looks_like_phone(value: str) -> bool:
    """Seven or more digits written only with phone punctuation: "+44 20 7946 0000"."""
    stripped = value.strip()
    digits = sum(ch.isdigit() for ch in stripped)
    return digits >= 7 and _PHONE_CHARACTERS.fullmatch(stripped) is not None


def label_problem(label: str) -> str | None:
    """Why a participant label is refused, or None when it is acceptable."""
    if looks_like_email(label):
        return "looks like an email address; use a pseudonymous label such as P07"
    if looks_like_phone(label):
        return "looks like a phone number; use a pseudonymous label such as P07"
    return None


def attribute_problem(name: str) -> str | None:
    kind = identifier_kind(name)
    if kind is None:
        return None
    return (
        f"attribute {name!r} looks like {kind}, a direct identifier; participants are "
        "pseudonymous, so store no names, contact details, dates of birth or ID numbers"
    )
