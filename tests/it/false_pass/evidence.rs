//! Cases about evidence bundles, verify and replay (issue #12 items 6 and 11; filled by h-trust).
