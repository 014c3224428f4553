//! Why a segment could not be made, kept apart by cause: a bridged session answers a model that fails or
//! cannot be reached with the synthesizer, but a full disk is the session's own failure either way.

use crate::backend::BackendError;
use crate::containers::ServiceError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cause {
    /// The model server answered and the job failed, or it took too long.
    Model,
    /// The model server (or its container) could not be reached.
    Unreachable,
    /// This server's own work: files, tasks.
    Local,
}

/// A failure for the listener: the message, whether starting again may help, and its cause.
#[derive(Clone, Debug)]
pub(super) struct Failure {
    pub message: String,
    pub retryable: bool,
    pub cause: Cause,
}

impl Failure {
    pub fn local(message: String) -> Failure {
        Failure {
            message,
            retryable: true,
            cause: Cause::Local,
        }
    }

    pub fn model(message: String) -> Failure {
        Failure {
            message,
            retryable: true,
            cause: Cause::Model,
        }
    }

    pub fn backend(error: &BackendError) -> Failure {
        Failure {
            message: error.to_string(),
            retryable: error.retryable(),
            cause: match error {
                BackendError::Unreachable { .. } => Cause::Unreachable,
                _ => Cause::Model,
            },
        }
    }

    pub fn service(error: &ServiceError) -> Failure {
        Failure {
            message: error.to_string(),
            retryable: error.retryable(),
            cause: Cause::Unreachable,
        }
    }

    /// The same failure with a message that says more.
    pub fn reworded(self, message: String) -> Failure {
        Failure { message, ..self }
    }
}
