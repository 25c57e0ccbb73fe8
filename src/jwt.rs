//! Access tokens: compact JWTs signed with Ed25519 (JWS `alg: EdDSA`), a `kid`
//! in the header naming the key. The auth service signs them; every service
//! verifies them locally. Verification pins the algorithm (anything but EdDSA —
//! `none`, HS256, … — is refused before any key is looked at), requires a known
//! `kid`, checks the signature strictly, then `iss`, `aud` and the lifetime.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::types::UnixMillis;

/// The one JWS algorithm accepted.
pub const ALGORITHM: &str = "EdDSA";

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A registered traveller.
    Customer,
    /// An operator: may change the catalog.
    Admin,
    /// Another service of the platform (the reservation service's account).
    Service,
}

impl Role {
    /// The claim value: `customer`, `admin` or `service`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Admin => "admin",
            Self::Service => "service",
        }
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: the auth service's configured name.
    pub iss: String,
    /// Audience: the platform's configured name.
    pub aud: String,
    /// Subject: the user's or service account's id.
    pub sub: String,
    /// The caller's role.
    pub role: Role,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: i64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

/// Why a token was refused. Callers get a generic UNAUTHENTICATED; the variant is for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts with JSON header and claims.
    #[error("token is malformed")]
    Malformed,
    /// The header names another algorithm than EdDSA (for example `none` or `HS256`).
    #[error("token algorithm `{0}` is not accepted")]
    Algorithm(String),
    /// The header has no `kid`.
    #[error("token has no key id")]
    NoKeyId,
    /// No published key has this id.
    #[error("token key id `{0}` is unknown")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("token signature is invalid")]
    Signature,
    /// `exp` is past.
    #[error("token has expired")]
    Expired,
    /// `iat` is in the future.
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iss` is not the expected issuer.
    #[error("token issuer is not accepted")]
    Issuer,
    /// `aud` is not the expected audience.
    #[error("token audience is not accepted")]
    Audience,
}

impl TokenError {
    /// Why, as a metric's `reason` label: one fixed word per kind, never the
    /// key id or algorithm the token named.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Algorithm(_) => "wrong_algorithm",
            Self::NoKeyId => "no_key_id",
            Self::UnknownKey(_) => "unknown_key",
            Self::Signature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Issuer => "wrong_issuer",
            Self::Audience => "wrong_audience",
        }
    }
}

/// A private signing key with its id. Its `Debug` shows the id and the
/// public half only (`SigningKey`'s own `Debug` leaves the secret out).
#[derive(Debug, Clone)]
pub struct KeyPair {
    kid: String,
    key: SigningKey,
}

impl KeyPair {
    /// A new random key from the operating system's generator.
    pub fn generate(kid: impl Into<String>) -> Result<Self, getrandom::Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)?;
        Ok(Self::from_seed(kid, seed))
    }

    /// The key with this 32-byte seed (the Ed25519 private key).
    pub fn from_seed(kid: impl Into<String>, seed: [u8; 32]) -> Self {
        Self {
            kid: kid.into(),
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The 32-byte seed, to persist the key.
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, to publish.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            kid: self.kid.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs `claims` into a compact JWT.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = Header {
            alg: ALGORITHM.into(),
            typ: Some("JWT".into()),
            kid: Some(self.kid.clone()),
        };
        // Serializing these plain structs cannot fail.
        let header = serde_json::to_vec(&header).unwrap_or_default();
        let claims = serde_json::to_vec(claims).unwrap_or_default();
        let signing_input = format!("{}.{}", B64.encode(header), B64.encode(claims));
        let signature = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", B64.encode(signature.to_bytes()))
    }
}

/// A published verification key with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The key id tokens name in their header.
    pub kid: String,
    key: VerifyingKey,
}

impl PublicKey {
    /// A key from its 32 raw bytes.
    pub fn from_bytes(kid: impl Into<String>, bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; 32] = bytes.try_into().ok()?;
        Some(Self {
            kid: kid.into(),
            key: VerifyingKey::from_bytes(bytes).ok()?,
        })
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

/// What a token must say to be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations {
    /// The accepted `iss`.
    pub issuer: String,
    /// The accepted `aud`.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `iat`, in seconds.
    pub leeway_secs: i64,
}

/// The key id a token names, after checking that its algorithm is EdDSA.
/// Nothing is trusted yet: the caller must still [`verify`] with that key.
pub fn key_id(token: &str) -> Result<String, TokenError> {
    let header = token.split('.').next().ok_or(TokenError::Malformed)?;
    let header: Header = serde_json::from_slice(&B64.decode(header).map_err(|_| TokenError::Malformed)?)
        .map_err(|_| TokenError::Malformed)?;
    if header.alg != ALGORITHM {
        return Err(TokenError::Algorithm(header.alg));
    }
    header.kid.filter(|k| !k.is_empty()).ok_or(TokenError::NoKeyId)
}

/// Verifies `token` with `key` and returns its claims if it is acceptable at `now`.
pub fn verify(token: &str, key: &PublicKey, expect: &Expectations, now: UnixMillis) -> Result<Claims, TokenError> {
    if key_id(token)? != key.kid {
        return Err(TokenError::UnknownKey(key_id(token)?));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let signature = B64.decode(signature).map_err(|_| TokenError::Malformed)?;
    let signature = ed25519_dalek::Signature::from_slice(&signature).map_err(|_| TokenError::Malformed)?;
    key.key
        .verify_strict(format!("{header}.{payload}").as_bytes(), &signature)
        .map_err(|_| TokenError::Signature)?;
    let claims: Claims = serde_json::from_slice(&B64.decode(payload).map_err(|_| TokenError::Malformed)?)
        .map_err(|_| TokenError::Malformed)?;
    let now = now.unix_millis().div_euclid(1000);
    if claims.iss != expect.issuer {
        return Err(TokenError::Issuer);
    }
    if claims.aud != expect.audience {
        return Err(TokenError::Audience);
    }
    if claims.exp + expect.leeway_secs <= now {
        return Err(TokenError::Expired);
    }
    if claims.iat - expect.leeway_secs > now {
        return Err(TokenError::NotYetValid);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_900_000_000;

    fn expect() -> Expectations {
        Expectations {
            issuer: "travel-auth".into(),
            audience: "travel".into(),
            leeway_secs: 30,
        }
    }

    fn claims() -> Claims {
        Claims {
            iss: "travel-auth".into(),
            aud: "travel".into(),
            sub: "user-1".into(),
            role: Role::Customer,
            iat: NOW - 10,
            exp: NOW + 900,
        }
    }

    fn at(secs: i64) -> UnixMillis {
        UnixMillis::from_unix_millis(secs * 1000)
    }

    /// Builds a token from raw header and claims JSON with any signature bytes.
    fn forge(header: &str, claims: &Claims, signature: &[u8]) -> String {
        let claims = serde_json::to_vec(claims).unwrap();
        format!(
            "{}.{}.{}",
            B64.encode(header),
            B64.encode(claims),
            B64.encode(signature)
        )
    }

    /// Verifies against a ring holding `keys`, the way a service does.
    fn check(token: &str, keys: &[PublicKey]) -> Result<Claims, TokenError> {
        let kid = key_id(token)?;
        let key = keys.iter().find(|k| k.kid == kid).ok_or(TokenError::UnknownKey(kid))?;
        verify(token, key, &expect(), at(NOW))
    }

    #[test]
    fn a_token_signed_by_a_published_key_is_accepted() {
        let key = KeyPair::from_seed("k1", [7; 32]);
        let token = key.sign(&claims());
        assert_eq!(check(&token, &[key.public()]), Ok(claims()));
    }

    #[test]
    fn tokens_from_both_keys_verify_during_a_rotation() {
        let old = KeyPair::from_seed("2026-01", [1; 32]);
        let new = KeyPair::from_seed("2026-02", [2; 32]);
        let published = [old.public(), new.public()];
        assert!(check(&old.sign(&claims()), &published).is_ok());
        assert!(check(&new.sign(&claims()), &published).is_ok());
    }

    #[test]
    fn bad_tokens_are_refused_for_the_right_reason() {
        let key = KeyPair::from_seed("k1", [7; 32]);
        let stranger = KeyPair::from_seed("k1", [9; 32]); // same kid, key never published
        let published = [key.public()];
        let with = |f: fn(&mut Claims)| {
            let mut c = claims();
            f(&mut c);
            key.sign(&c)
        };
        let tampered = {
            let token = key.sign(&claims());
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            let mut c = claims();
            c.role = Role::Admin;
            parts[1] = B64.encode(serde_json::to_vec(&c).unwrap());
            parts.join(".")
        };
        // HS256 "signed" with the public key as the HMAC secret: the classic confusion attack.
        let hs256 = {
            use hmac::Mac;
            let header = r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#;
            let input = format!(
                "{}.{}",
                B64.encode(header),
                B64.encode(serde_json::to_vec(&claims()).unwrap())
            );
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key.public().to_bytes()).unwrap();
            mac.update(input.as_bytes());
            format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
        };
        let cases: Vec<(&str, String, TokenError)> = vec![
            (
                "alg none",
                forge(r#"{"alg":"none","kid":"k1"}"#, &claims(), b""),
                TokenError::Algorithm("none".into()),
            ),
            (
                "HS256 with the public key as secret",
                hs256,
                TokenError::Algorithm("HS256".into()),
            ),
            ("expired", with(|c| c.exp = NOW - 31), TokenError::Expired),
            (
                "issued in the future",
                with(|c| c.iat = NOW + 120),
                TokenError::NotYetValid,
            ),
            (
                "wrong issuer",
                with(|c| c.iss = "someone-else".into()),
                TokenError::Issuer,
            ),
            (
                "wrong audience",
                with(|c| c.aud = "another-platform".into()),
                TokenError::Audience,
            ),
            (
                "unknown kid",
                KeyPair::from_seed("k9", [7; 32]).sign(&claims()),
                TokenError::UnknownKey("k9".into()),
            ),
            (
                "no kid",
                forge(r#"{"alg":"EdDSA"}"#, &claims(), &[0; 64]),
                TokenError::NoKeyId,
            ),
            ("tampered payload", tampered, TokenError::Signature),
            (
                "signed by an unpublished key",
                stranger.sign(&claims()),
                TokenError::Signature,
            ),
            ("not a token", "hello".into(), TokenError::Malformed),
            ("empty", String::new(), TokenError::Malformed),
            ("two parts", "a.b".into(), TokenError::Malformed),
        ];
        for (name, token, want) in cases {
            assert_eq!(check(&token, &published), Err(want), "{name}");
        }
    }

    #[test]
    fn a_token_within_the_leeway_of_its_expiry_is_accepted() {
        let key = KeyPair::from_seed("k1", [7; 32]);
        let mut c = claims();
        c.exp = NOW - 5;
        assert!(check(&key.sign(&c), &[key.public()]).is_ok());
    }

    #[test]
    fn public_keys_round_trip_through_bytes() {
        let key = KeyPair::from_seed("k1", [3; 32]).public();
        assert_eq!(PublicKey::from_bytes("k1", &key.to_bytes()), Some(key));
        assert_eq!(PublicKey::from_bytes("k1", &[0; 31]), None);
    }
}
