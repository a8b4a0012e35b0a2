//! What a component file is: its exported functions and their signatures,
//! the description snakebox's builder puts in it (checked against its WIT
//! types), and the files it carries.

pub(crate) mod bundle;
pub(crate) mod described;
pub(crate) mod signature;
