//! Money in integer minor units, per ISO 4217 currency.
//!
//! No price decision ever touches a float. JSON numbers are converted exactly at the edge: a
//! request's number is read from the decimal text the client wrote ([`JsonDecimal`]), and a
//! response's number is written as the double nearest to the exact decimal, which prints back as
//! that decimal because every amount here has at most 15 significant digits.

use std::fmt;

use serde::de::{Error as _, Unexpected};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// The largest amount accepted, in minor units: 15 digits, so every amount survives a round trip
/// through a JSON number (an IEEE double) exactly.
pub const MAX_MINOR_UNITS: i64 = 999_999_999_999_999;

/// Why a currency code or an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not an ISO 4217 code, or a code with no minor unit (gold, SDRs, testing codes).
    #[error("{0:?} is not an ISO 4217 currency code with a minor unit")]
    UnknownCurrency(String),
    /// Not a plain decimal number.
    #[error("{0:?} is not a decimal number")]
    NotANumber(String),
    /// Below zero.
    #[error("amount must not be negative")]
    Negative,
    /// More decimals than the currency's minor unit allows.
    #[error("{currency} allows at most {minor_units} decimal places")]
    TooManyDecimals {
        /// The currency code.
        currency: &'static str,
        /// Its number of decimals.
        minor_units: u8,
    },
    /// Larger than [`MAX_MINOR_UNITS`].
    #[error("amount is too large")]
    TooLarge,
}

/// An ISO 4217 currency with its number of decimals (EUR 2, JPY 0, BHD 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    code: iso_currency::Currency,
    minor_units: u8,
}

impl Currency {
    /// Looks up an ISO 4217 code (upper case, as the standard writes it).
    ///
    /// # Errors
    /// [`MoneyError::UnknownCurrency`] for an unknown code or one without a minor unit.
    pub fn from_code(code: &str) -> Result<Self, MoneyError> {
        let unknown = || MoneyError::UnknownCurrency(code.to_owned());
        let currency = iso_currency::Currency::from_code(code).ok_or_else(unknown)?;
        let minor_units = currency
            .exponent()
            .and_then(|e| u8::try_from(e).ok())
            .filter(|e| *e <= 4)
            .ok_or_else(unknown)?;
        Ok(Self {
            code: currency,
            minor_units,
        })
    }

    /// The three-letter code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.code.code()
    }

    /// How many decimals the currency has.
    #[must_use]
    pub fn minor_units(&self) -> u8 {
        self.minor_units
    }

    /// Parses a decimal text (`"87"`, `"87.5"`, `"1e2"`) into minor units, exactly.
    ///
    /// # Errors
    /// [`MoneyError::NotANumber`], [`MoneyError::Negative`], [`MoneyError::TooManyDecimals`] or
    /// [`MoneyError::TooLarge`]; nothing is rounded.
    pub fn parse_amount(&self, text: &str) -> Result<Amount, MoneyError> {
        let not_a_number = || MoneyError::NotANumber(text.to_owned());
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(at) => {
                let exponent: i32 = unsigned[at + 1..].parse().map_err(|_| not_a_number())?;
                (&unsigned[..at], exponent)
            }
            None => (unsigned, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty() || !all_digits(int_part) || !all_digits(frac_part) {
            return Err(not_a_number());
        }
        // value = digits × 10^(exponent − frac_len); in minor units shift by the currency's decimals.
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        let frac_len = i32::try_from(frac_part.len()).map_err(|_| not_a_number())?;
        let mut shift = exponent - frac_len + i32::from(self.minor_units);
        let mut digits = digits.to_owned();
        // Trailing zeros may absorb a negative shift ("87.50" in JPY is 87.5 → refused, "87.0" is fine).
        while shift < 0 && digits.ends_with('0') {
            digits.pop();
            shift += 1;
        }
        if digits.is_empty() {
            return Ok(Amount(0));
        }
        if negative {
            return Err(MoneyError::Negative);
        }
        if shift < 0 {
            return Err(MoneyError::TooManyDecimals {
                currency: self.code(),
                minor_units: self.minor_units,
            });
        }
        if digits.len() + usize::try_from(shift).unwrap_or(usize::MAX) > 15 {
            return Err(MoneyError::TooLarge);
        }
        let base: i64 = digits.parse().map_err(|_| MoneyError::TooLarge)?;
        let minor = base
            .checked_mul(10_i64.pow(shift.unsigned_abs()))
            .filter(|m| *m <= MAX_MINOR_UNITS)
            .ok_or(MoneyError::TooLarge)?;
        Ok(Amount(minor))
    }

    /// Parses a JSON number exactly, from the text the client wrote (see
    /// [`Currency::parse_amount`]).
    ///
    /// # Errors
    /// As [`Currency::parse_amount`].
    pub fn parse_json_amount(&self, number: &JsonDecimal) -> Result<Amount, MoneyError> {
        self.parse_amount(number.as_str())
    }

    /// The amount as a JSON-ready value in major units.
    #[must_use]
    pub fn major(&self, amount: Amount) -> MajorUnits {
        MajorUnits {
            minor: amount.0,
            minor_units: self.minor_units,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A JSON number as the client wrote it. Money is parsed from this text: read through a double
/// (`serde_json::Number`), `99.989999999999999999` would become `99.99` and be accepted, while
/// `99.989` is refused for its third decimal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonDecimal(Box<str>);

impl JsonDecimal {
    /// The number's JSON text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<serde_json::Number> for JsonDecimal {
    fn from(number: serde_json::Number) -> Self {
        Self(number.to_string().into())
    }
}

impl<'de> Deserialize<'de> for JsonDecimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text = raw.get().trim();
        // The JSON grammar's numbers, and only them, begin with a minus sign or a digit.
        if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            Ok(Self(text.into()))
        } else {
            Err(D::Error::invalid_type(Unexpected::Other(text), &"a number"))
        }
    }
}

impl Serialize for JsonDecimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RawValue::from_string(self.0.to_string())
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

/// An amount of some currency in minor units (cents for EUR, yen for JPY, fils for BHD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(pub i64);

impl Amount {
    /// The raw minor units.
    #[must_use]
    pub fn minor_units(self) -> i64 {
        self.0
    }
}

/// An amount rendered in major units for JSON (`9950` cents → `99.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MajorUnits {
    minor: i64,
    minor_units: u8,
}

impl MajorUnits {
    /// The value as the double nearest to the exact decimal.
    #[must_use]
    #[allow(clippy::cast_precision_loss)] // |minor| ≤ MAX_MINOR_UNITS < 2^53: exact
    pub fn as_f64(self) -> f64 {
        self.minor as f64 / 10_f64.powi(i32::from(self.minor_units))
    }
}

impl fmt::Display for MajorUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = 10_i64.pow(u32::from(self.minor_units));
        if self.minor_units == 0 {
            write!(f, "{}", self.minor)
        } else {
            let width = usize::from(self.minor_units);
            write!(f, "{}.{:0width$}", self.minor / scale, self.minor % scale)
        }
    }
}

impl Serialize for MajorUnits {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    #[test]
    fn currencies_know_their_decimals() {
        assert_eq!(eur().minor_units(), 2);
        assert_eq!(Currency::from_code("JPY").unwrap().minor_units(), 0);
        assert_eq!(Currency::from_code("BHD").unwrap().minor_units(), 3);
        assert!(matches!(
            Currency::from_code("XAU"),
            Err(MoneyError::UnknownCurrency(_))
        ));
        assert!(matches!(
            Currency::from_code("eur"),
            Err(MoneyError::UnknownCurrency(_))
        ));
        assert!(Currency::from_code("ZZZ").is_err());
    }

    #[test]
    fn parses_decimal_text_exactly() {
        let eur = eur();
        assert_eq!(eur.parse_amount("87").unwrap(), Amount(8700));
        assert_eq!(eur.parse_amount("87.5").unwrap(), Amount(8750));
        assert_eq!(eur.parse_amount("87.05").unwrap(), Amount(8705));
        assert_eq!(eur.parse_amount("87.050").unwrap(), Amount(8705));
        assert_eq!(eur.parse_amount("0.1").unwrap(), Amount(10));
        assert_eq!(eur.parse_amount("1e2").unwrap(), Amount(10_000));
        assert_eq!(eur.parse_amount("1.5E-1").unwrap(), Amount(15));
        assert_eq!(eur.parse_amount("0").unwrap(), Amount(0));
        assert_eq!(eur.parse_amount("-0.0").unwrap(), Amount(0));
        assert_eq!(
            eur.parse_amount("87.001"),
            Err(MoneyError::TooManyDecimals {
                currency: "EUR",
                minor_units: 2
            })
        );
        assert_eq!(eur.parse_amount("-1"), Err(MoneyError::Negative));
        assert_eq!(eur.parse_amount("1e20"), Err(MoneyError::TooLarge));
        assert!(matches!(
            eur.parse_amount("abc"),
            Err(MoneyError::NotANumber(_))
        ));
        assert!(matches!(
            eur.parse_amount(".5"),
            Err(MoneyError::NotANumber(_))
        ));
        assert!(matches!(
            eur.parse_amount(""),
            Err(MoneyError::NotANumber(_))
        ));
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(jpy.parse_amount("1500").unwrap(), Amount(1500));
        assert_eq!(jpy.parse_amount("1500.0").unwrap(), Amount(1500));
        assert!(matches!(
            jpy.parse_amount("1500.5"),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        let bhd = Currency::from_code("BHD").unwrap();
        assert_eq!(bhd.parse_amount("1.005").unwrap(), Amount(1005));
        assert!(bhd.parse_amount("1.0005").is_err());
    }

    #[test]
    fn json_numbers_are_read_from_the_text_the_client_wrote() {
        let eur = eur();
        let read = |json: &str| serde_json::from_str::<JsonDecimal>(json);
        // A double would round this to 99.99; its text has too many decimals.
        assert!(matches!(
            eur.parse_json_amount(&read("99.989999999999999999").unwrap()),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        assert_eq!(
            eur.parse_json_amount(&read(" 99.99 ").unwrap()),
            Ok(Amount(9999))
        );
        for not_a_number in ["\"99.99\"", "true", "null", "[1]", "{}"] {
            assert!(read(not_a_number).is_err(), "{not_a_number}");
        }
        // Built from a `Value` too (fixtures and tests use `json!`).
        let from_value: JsonDecimal = serde_json::from_value(serde_json::json!(87.05)).unwrap();
        assert_eq!(eur.parse_json_amount(&from_value), Ok(Amount(8705)));
        assert_eq!(serde_json::to_string(&from_value).unwrap(), "87.05");
    }

    #[test]
    fn json_numbers_round_trip_exactly() {
        let eur = eur();
        for text in [
            "0.07",
            "99.5",
            "87.05",
            "123456.78",
            "0.01",
            "9999999999999.99",
        ] {
            let number: JsonDecimal = serde_json::from_str(text).unwrap();
            let amount = eur.parse_json_amount(&number).unwrap();
            let back = serde_json::to_string(&eur.major(amount)).unwrap();
            assert_eq!(
                back.parse::<f64>().unwrap().to_string(),
                text.parse::<f64>().unwrap().to_string()
            );
            assert_eq!(
                eur.parse_amount(&back).unwrap(),
                amount,
                "{text} came back as {back}"
            );
        }
        assert_eq!(
            serde_json::to_string(&eur.major(Amount(8700))).unwrap(),
            "87.0"
        );
        let bhd = Currency::from_code("BHD").unwrap();
        assert_eq!(
            serde_json::to_string(&bhd.major(Amount(1005))).unwrap(),
            "1.005"
        );
        assert_eq!(bhd.major(Amount(1005)).to_string(), "1.005");
        assert_eq!(eur.major(Amount(705)).to_string(), "7.05");
        assert_eq!(
            Currency::from_code("JPY")
                .unwrap()
                .major(Amount(1500))
                .to_string(),
            "1500"
        );
    }
}
