//! `message_error!`: a module family's error type whose whole content is
//! its located, user-facing message (parsers and checks that build one
//! sentence naming the key, value and rule). A named type per family keeps
//! `Result<_, String>` out of the library's signatures while the text stays
//! exactly what it was; callers that add context take it as a `String`
//! (`From<E> for String`) or read it as `&str` (`Deref`).

macro_rules! message_error {
    ($(#[$meta:meta])* $vis:vis $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("{0}")]
        $vis struct $name(pub String);

        impl From<String> for $name {
            fn from(message: String) -> Self {
                $name(message)
            }
        }

        impl From<&str> for $name {
            fn from(message: &str) -> Self {
                $name(message.to_string())
            }
        }

        impl From<$name> for String {
            fn from(e: $name) -> String {
                e.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

#[cfg(test)]
mod tests {
    message_error!(
        /// A test family's error.
        pub TestError
    );

    fn fails(text: &str) -> Result<(), TestError> {
        Err(format!("key `{text}`: must be positive").into())
    }

    #[test]
    fn the_message_is_kept_exactly_and_converts_back_to_a_string() {
        let e = fails("dt").unwrap_err();
        assert_eq!(e.to_string(), "key `dt`: must be positive");
        assert_eq!(e, "key `dt`: must be positive");
        assert!(e.contains("must be positive"));
        assert!(std::error::Error::source(&e).is_none());
        let s: String = e.clone().into();
        assert_eq!(s, e.0);
        assert_eq!(TestError::from("x"), TestError("x".to_string()));
    }
}
