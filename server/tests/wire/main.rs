//! What goes over the wire, over real HTTP: segment downloads (encodings, ranges, resumption,
//! revalidation) and the page's own files (compression, caching). One test binary for both: each binary
//! links the whole server, which is most of the test build's time.

#[path = "../common/mod.rs"]
mod common;
mod downloads;
mod site;
