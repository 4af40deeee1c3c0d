//! Operations on a realm's clients shared by the admin API, dynamic client registration
//! and the console; they sit below all three, which import them.

pub mod clients;
pub mod switches;
