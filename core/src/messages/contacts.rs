//! Contacts messages (docs/360dialog-api.md §4.4): 1 to 5 contact cards.

use serde::{Deserialize, Serialize};

use super::read::map_only;

use super::common::{check_count, check_non_empty, idx, join, optional_setters};
use crate::{Error, Result};

/// Most contact cards in one message.
pub const MAX_CONTACTS: usize = 5;

/// Declares a record of optional string fields: the Rust field name, the wire
/// key, and a doc line for each.
macro_rules! string_record {
    ($(#[$doc:meta])* $name:ident { $( $(#[$fdoc:meta])* $field:ident => $key:literal ),* $(,)? }) => {
        $(#[$doc])*
        ///
        /// The neutral form and the wire form are the same object.
        #[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
        #[serde(remote = "Self", deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[$fdoc])*
                #[serde(rename = $key, skip_serializing_if = "Option::is_none")]
                pub $field: Option<String>,
            )*
        }

        map_only!(ser $name);
    };
}

string_record!(
    /// A phone number on a contact card.
    ContactPhone {
        /// The number as displayed.
        phone => "phone",
        /// `CELL`, `MAIN`, `IPHONE`, `HOME` or `WORK`.
        kind => "type",
        /// The WhatsApp id, which adds a "Message" button.
        wa_id => "wa_id",
    }
);

string_record!(
    /// An e-mail address on a contact card.
    ContactEmail {
        /// The address.
        email => "email",
        /// `HOME` or `WORK`.
        kind => "type",
    }
);

string_record!(
    /// A URL on a contact card.
    ContactUrl {
        /// The URL.
        url => "url",
        /// Free label, usually `HOME` or `WORK`.
        kind => "type",
    }
);

string_record!(
    /// A postal address on a contact card.
    ContactAddress {
        /// Street.
        street => "street",
        /// City.
        city => "city",
        /// State.
        state => "state",
        /// Postal code.
        zip => "zip",
        /// Country name.
        country => "country",
        /// Two-letter country code.
        country_code => "country_code",
        /// `HOME` or `WORK`.
        kind => "type",
    }
);

string_record!(
    /// Organisation details on a contact card.
    ContactOrg {
        /// Company.
        company => "company",
        /// Department.
        department => "department",
        /// Job title.
        title => "title",
    }
);

string_record!(
    /// Name parts other than the required formatted name.
    NameParts {
        /// First name.
        first_name => "first_name",
        /// Last name.
        last_name => "last_name",
        /// Middle name.
        middle_name => "middle_name",
        /// Suffix.
        suffix => "suffix",
        /// Prefix.
        prefix => "prefix",
    }
);

/// One contact card. Only `formatted_name` is required.
///
/// Neutral form: the wire contact object (`name.formatted_name`, `phones`, …).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(from = "ContactSpec")]
pub struct Contact {
    /// The full name as shown (required).
    pub formatted_name: String,
    /// Optional name parts.
    pub name: NameParts,
    /// Phone numbers.
    pub phones: Vec<ContactPhone>,
    /// E-mail addresses.
    pub emails: Vec<ContactEmail>,
    /// URLs.
    pub urls: Vec<ContactUrl>,
    /// Postal addresses.
    pub addresses: Vec<ContactAddress>,
    /// Organisation.
    pub org: Option<ContactOrg>,
    /// Birthday, `YYYY-MM-DD`.
    pub birthday: Option<String>,
}

impl Contact {
    /// A card with just a formatted name.
    pub fn new(formatted_name: impl Into<String>) -> Self {
        Contact {
            formatted_name: formatted_name.into(),
            ..Default::default()
        }
    }

    /// Add a phone number with its type (`CELL`, `MAIN`, `IPHONE`, `HOME`, `WORK`).
    pub fn phone(mut self, phone: impl Into<String>, kind: impl Into<String>) -> Self {
        self.phones.push(ContactPhone {
            phone: Some(phone.into()),
            kind: Some(kind.into()),
            wa_id: None,
        });
        self
    }

    /// Add an e-mail address with its type (`HOME`, `WORK`).
    pub fn email(mut self, email: impl Into<String>, kind: impl Into<String>) -> Self {
        self.emails.push(ContactEmail {
            email: Some(email.into()),
            kind: Some(kind.into()),
        });
        self
    }

    optional_setters! {
        /// Set the birthday (`YYYY-MM-DD`).
        birthday => birthday;
    }

    /// Check the card at `path`.
    fn validate(&self, path: &str) -> Result<()> {
        check_non_empty(&join(path, "name.formatted_name"), &self.formatted_name)?;
        if let Some(b) = &self.birthday
            && !is_date(b)
        {
            return Err(Error::invalid(
                join(path, "birthday"),
                format!("must be a date in the form YYYY-MM-DD (got {b:?})"),
            ));
        }
        check_kinds(
            &join(path, "phones"),
            self.phones.iter().map(|p| &p.kind),
            &["CELL", "MAIN", "IPHONE", "HOME", "WORK"],
        )?;
        check_kinds(
            &join(path, "emails"),
            self.emails.iter().map(|p| &p.kind),
            &["HOME", "WORK"],
        )?;
        check_kinds(
            &join(path, "addresses"),
            self.addresses.iter().map(|p| &p.kind),
            &["HOME", "WORK"],
        )?;
        Ok(())
    }

    /// The wire object (after [`Contact::validate`]).
    fn wire(&self) -> ContactWire<'_> {
        ContactWire {
            name: NameWire {
                formatted_name: &self.formatted_name,
                parts: &self.name,
            },
            phones: &self.phones,
            emails: &self.emails,
            urls: &self.urls,
            addresses: &self.addresses,
            org: self.org.as_ref(),
            birthday: self.birthday.as_deref(),
        }
    }
}

/// The wire form of a contact card (empty lists are left out).
#[derive(Serialize)]
pub(crate) struct ContactWire<'a> {
    name: NameWire<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    phones: &'a [ContactPhone],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    emails: &'a [ContactEmail],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    urls: &'a [ContactUrl],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    addresses: &'a [ContactAddress],
    #[serde(skip_serializing_if = "Option::is_none")]
    org: Option<&'a ContactOrg>,
    #[serde(skip_serializing_if = "Option::is_none")]
    birthday: Option<&'a str>,
}

#[derive(Serialize)]
struct NameWire<'a> {
    formatted_name: &'a str,
    #[serde(flatten)]
    parts: &'a NameParts,
}

/// The neutral (and wire) shape of a contact card.
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct ContactSpec {
    name: NameSpec,
    phones: Option<Vec<ContactPhone>>,
    emails: Option<Vec<ContactEmail>>,
    urls: Option<Vec<ContactUrl>>,
    addresses: Option<Vec<ContactAddress>>,
    org: Option<ContactOrg>,
    birthday: Option<String>,
}

/// The `name` object: the formatted name plus the optional parts.
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct NameSpec {
    formatted_name: String,
    first_name: Option<String>,
    last_name: Option<String>,
    middle_name: Option<String>,
    suffix: Option<String>,
    prefix: Option<String>,
}

impl From<ContactSpec> for Contact {
    fn from(s: ContactSpec) -> Contact {
        let n = s.name;
        Contact {
            formatted_name: n.formatted_name,
            name: NameParts {
                first_name: n.first_name,
                last_name: n.last_name,
                middle_name: n.middle_name,
                suffix: n.suffix,
                prefix: n.prefix,
            },
            phones: s.phones.unwrap_or_default(),
            emails: s.emails.unwrap_or_default(),
            urls: s.urls.unwrap_or_default(),
            addresses: s.addresses.unwrap_or_default(),
            org: s.org,
            birthday: s.birthday,
        }
    }
}

fn check_kinds<'a>(
    path: &str,
    kinds: impl Iterator<Item = &'a Option<String>>,
    allowed: &[&str],
) -> Result<()> {
    for (i, k) in kinds.enumerate() {
        if let Some(k) = k
            && !allowed.contains(&k.as_str())
        {
            return Err(Error::invalid(
                join(&idx(path, i), "type"),
                format!("must be one of {} (got {k:?})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

/// `YYYY-MM-DD` with a real month and a day that exists in that month.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// Check a list of cards (docs/360dialog-api.md §4.4).
pub(crate) fn validate(contacts: &[Contact]) -> Result<()> {
    check_count("contacts", "contacts", contacts.len(), 1, MAX_CONTACTS)?;
    for (i, c) in contacts.iter().enumerate() {
        c.validate(&idx("contacts", i))?;
    }
    Ok(())
}

/// The wire array (after [`validate`]).
pub(crate) fn wire(contacts: &[Contact]) -> Vec<ContactWire<'_>> {
    contacts.iter().map(Contact::wire).collect()
}

#[cfg(test)]
fn contacts_value(contacts: &[Contact]) -> Result<serde_json::Value> {
    validate(contacts)?;
    Ok(serde_json::to_value(wire(contacts)).unwrap_or_default())
}

map_only!(ContactSpec, NameSpec);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(is_date("1990-02-28"));
        assert!(is_date("2000-02-29"));
        assert!(!is_date("1900-02-29"));
        assert!(!is_date("1990-13-01"));
        assert!(!is_date("1990-1-01"));
        assert!(!is_date("1990-01-32"));
        assert!(!is_date("+990-01-01"));
    }

    #[test]
    fn count_and_name() {
        assert!(contacts_value(&[]).is_err());
        let six: Vec<Contact> = (0..6).map(|i| Contact::new(format!("C{i}"))).collect();
        let e = contacts_value(&six).unwrap_err();
        assert_eq!(e.field(), Some("contacts"));
        assert!(contacts_value(&six[..5]).is_ok());
        let e = contacts_value(&[Contact::new("")]).unwrap_err();
        assert_eq!(e.field(), Some("contacts[0].name.formatted_name"));
        let e = contacts_value(&[Contact::new("A").phone("+1 555", "MOBILE")]).unwrap_err();
        assert_eq!(e.field(), Some("contacts[0].phones[0].type"));
    }
}
