//! Location messages (docs/360dialog-api.md §4.3).

use serde::{Deserialize, Serialize};

use super::common::{check_lat_long, check_non_empty, join, optional_setters};
use crate::Result;

/// A location pin: latitude in [-90, 90], longitude in [-180, 180], and an
/// optional name and address. Sent as JSON numbers.
/// Neutral form: `{"latitude": 52.52, "longitude": 13.40, "name"?, "address"?}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Location {
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
    /// Name of the place.
    pub name: Option<String>,
    /// Address of the place.
    pub address: Option<String>,
}

impl Location {
    /// A pin at `latitude`, `longitude`.
    pub fn new(latitude: f64, longitude: f64) -> Self {
        Location {
            latitude,
            longitude,
            name: None,
            address: None,
        }
    }

    optional_setters! {
        /// Set the place name.
        name => name;

        /// Set the address.
        address => address;
    }

    /// Check the ranges at `path`; `require_name_address` is set for template
    /// location headers.
    pub(crate) fn validate(&self, path: &str, require_name_address: bool) -> Result<()> {
        check_lat_long(path, self.latitude, self.longitude)?;
        for (key, v) in [("name", &self.name), ("address", &self.address)] {
            match v {
                Some(s) => check_non_empty(&join(path, key), s)?,
                None if require_name_address => {
                    return Err(crate::Error::invalid(
                        join(path, key),
                        "is required for a template location header",
                    ));
                }
                None => {}
            }
        }
        Ok(())
    }

    /// The wire object (after [`Location::validate`]; finite coordinates).
    pub(crate) fn wire(&self) -> LocationWire<'_> {
        LocationWire {
            latitude: self.latitude,
            longitude: self.longitude,
            name: self.name.as_deref(),
            address: self.address.as_deref(),
        }
    }
}

/// The wire `location` object (coordinates as JSON numbers).
#[derive(Serialize)]
pub(crate) struct LocationWire<'a> {
    latitude: f64,
    longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<&'a str>,
}

#[cfg(test)]
impl Location {
    fn to_value(&self, path: &str, require_name_address: bool) -> Result<serde_json::Value> {
        self.validate(path, require_name_address)?;
        Ok(serde_json::to_value(self.wire()).unwrap_or_default())
    }
}

use super::read::map_only;
map_only!(Location);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_inclusive() {
        assert!(
            Location::new(90.0, 180.0)
                .to_value("location", false)
                .is_ok()
        );
        assert!(
            Location::new(-90.0, -180.0)
                .to_value("location", false)
                .is_ok()
        );
        let e = Location::new(90.000001, 0.0)
            .to_value("location", false)
            .unwrap_err();
        assert_eq!(e.field(), Some("location.latitude"));
        let e = Location::new(0.0, -180.5)
            .to_value("location", false)
            .unwrap_err();
        assert_eq!(e.field(), Some("location.longitude"));
        let e = Location::new(f64::NAN, 0.0)
            .to_value("location", false)
            .unwrap_err();
        assert_eq!(e.field(), Some("location.latitude"));
    }

    #[test]
    fn template_header_needs_name_and_address() {
        let e = Location::new(1.0, 2.0)
            .name("Shop")
            .to_value("h", true)
            .unwrap_err();
        assert_eq!(e.field(), Some("h.address"));
    }
}
