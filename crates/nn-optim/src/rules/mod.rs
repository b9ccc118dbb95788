//! The update rules.

pub(crate) mod adadelta;
pub(crate) mod adagrad;
pub(crate) mod adam;
pub(crate) mod adamax;
pub(crate) mod lion;
pub(crate) mod nadam;
pub(crate) mod rmsprop;
pub(crate) mod sgd;
