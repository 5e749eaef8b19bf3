//! Where a client is: the geo database (`mmdb`), CIDR overrides, distances, and the
//! compiled-in country table for databases that carry only a country code.
//!
//! Pure apart from `GeoDb::open`, which reads the file whole: lookups take an address and
//! return values, with no allocation.

pub mod asn;
pub mod countries;
pub mod distance;
pub mod file;
pub mod mmdb;
pub mod overrides;

/// A point on Earth, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    pub lat: f64,
    pub lon: f64,
}

/// What the database says of a network. Codes are ASCII, e.g. `*b"DE"` and `*b"EU"`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Location {
    pub country: Option<[u8; 2]>,
    pub continent: Option<[u8; 2]>,
    pub coordinates: Option<Coordinates>,
}

/// The continent codes MaxMind and DB-IP use.
pub const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];

/// A two-letter code as bytes, if it is two ASCII letters (folded to uppercase).
pub fn code(text: &str) -> Option<[u8; 2]> {
    match text.as_bytes() {
        &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
        }
        _ => None,
    }
}

/// The code as text, for logs and explanations.
pub fn code_str(code: &[u8; 2]) -> &str {
    std::str::from_utf8(code).unwrap_or("??")
}

/// The continent and centroid of a country, from the compiled-in table.
pub fn country_facts(country: [u8; 2]) -> Option<([u8; 2], Option<Coordinates>)> {
    let at = countries::COUNTRIES.binary_search_by(|(c, _, _)| c.as_bytes().cmp(&country[..])).ok()?;
    let (_, continent, centroid) = countries::COUNTRIES[at];
    let centroid = centroid.map(|(lat, lon)| Coordinates { lat: f64::from(lat), lon: f64::from(lon) });
    Some((code(continent)?, centroid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_country_table_is_sorted_and_complete_enough() {
        assert!(countries::COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0), "binary search needs order");
        assert!(countries::COUNTRIES.len() > 240);
        let (continent, centroid) = country_facts(*b"DE").unwrap();
        assert_eq!(&continent, b"EU");
        let centroid = centroid.unwrap();
        assert!((47.0..55.0).contains(&centroid.lat) && (5.0..15.0).contains(&centroid.lon), "{centroid:?}");
        assert_eq!(country_facts(*b"US").unwrap().0, *b"NA");
        assert_eq!(country_facts(*b"ZZ"), None);
    }

    #[test]
    fn codes_are_two_letters() {
        assert_eq!(code("de"), Some(*b"DE"));
        assert_eq!(code("DEU"), None);
        assert_eq!(code("1A"), None);
    }
}
