//! Where calls run: a worker thread per store, which drives the store's
//! event loop, and the streams a generator's items come through.

pub(crate) mod streaming;
pub(crate) mod worker;
