//! Devices behind small traits.
