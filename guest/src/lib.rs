//! The Cachet action SDK. Filled by the "Host runtime and guest SDK" issue; empty until then.
