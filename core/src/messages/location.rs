//! Location messages (docs/360dialog-api.md §4.3).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::common::{check_lat_long, check_non_empty, f64_value, join, put_opt};
use crate::Result;

/// A location pin: latitude in [-90, 90], longitude in [-180, 180], and an
/// optional name and address. Sent as JSON numbers.
/// Neutral form: `{"latitude": 52.52, "longitude": 13.40, "name"?, "address"?}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
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

    /// Set the place name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Set the address.
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// Validate and build the wire object at `path`; `require_name_address`
    /// is set for template location headers.
    pub(crate) fn to_value(&self, path: &str, require_name_address: bool) -> Result<Value> {
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
        let mut m = Map::new();
        m.insert("latitude".into(), f64_value(self.latitude));
        m.insert("longitude".into(), f64_value(self.longitude));
        put_opt(&mut m, "name", &self.name);
        put_opt(&mut m, "address", &self.address);
        Ok(Value::Object(m))
    }
}

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
