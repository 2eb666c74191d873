//! Reading and writing item attributes with clear errors for malformed items.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use auction_core::ports::StoreError;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Typed reads of an item's attributes.
pub trait ItemExt {
    /// A required string.
    ///
    /// # Errors
    /// [`StoreError::CorruptItem`] when missing or not a string.
    fn string(&self, name: &str) -> Result<String, StoreError>;
    /// An optional string.
    fn opt_string(&self, name: &str) -> Option<String>;
    /// A required integer.
    ///
    /// # Errors
    /// [`StoreError::CorruptItem`] when missing or not an integer of that type.
    fn int<T: std::str::FromStr>(&self, name: &str) -> Result<T, StoreError>;
    /// An optional integer.
    ///
    /// # Errors
    /// [`StoreError::CorruptItem`] when present but not an integer of that type.
    fn opt_int<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, StoreError>;
}

fn corrupt(name: &str) -> StoreError {
    StoreError::CorruptItem(format!("attribute {name} is missing or has the wrong type"))
}

impl ItemExt for Item {
    fn string(&self, name: &str) -> Result<String, StoreError> {
        self.opt_string(name).ok_or_else(|| corrupt(name))
    }

    fn opt_string(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Some(AttributeValue::S(value)) => Some(value.clone()),
            _ => None,
        }
    }

    fn int<T: std::str::FromStr>(&self, name: &str) -> Result<T, StoreError> {
        self.opt_int(name)?.ok_or_else(|| corrupt(name))
    }

    fn opt_int<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, StoreError> {
        match self.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(value)) => value.parse().map(Some).map_err(|_| corrupt(name)),
            Some(_) => Err(corrupt(name)),
        }
    }
}
