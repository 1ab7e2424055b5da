//! Static CT (c2sp.org/static-ct-api) tile leaves converted to RFC 6962 entries.
