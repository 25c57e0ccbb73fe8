//! Proto ⇄ domain conversions of the auth service: requests are parsed into
//! validated domain values (every problem reported as a field violation), and
//! domain values are turned back into their proto messages.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use travel::Violations;
use travel::jwt::{ALGORITHM, PublicKey, Role};
use travel::pb::auth::v1 as pb;
use travel::types::RequestId;

use crate::domain::refresh::PresentedToken;
use crate::domain::{ClientCredentials, ClientId, Credentials, Email, Password, Registration, User};

impl TryFrom<pb::RegisterRequest> for Registration {
    type Error = Violations;

    fn try_from(r: pb::RegisterRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let email = v.check("email", Email::parse(&r.email));
        let password = v.check("password", Password::new_password(&r.password));
        let request_id = v.check("request_id", RequestId::parse_optional(&r.request_id));
        match (email, password, request_id) {
            (Some(email), Some(password), Some(request_id)) => Ok(Registration {
                email,
                password,
                request_id,
            }),
            _ => Err(v),
        }
    }
}

impl TryFrom<pb::LoginRequest> for Credentials {
    type Error = Violations;

    fn try_from(r: pb::LoginRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let email = v.check("email", Email::parse(&r.email));
        let password = v.check("password", Password::presented(&r.password));
        match (email, password) {
            (Some(email), Some(password)) => Ok(Credentials { email, password }),
            _ => Err(v),
        }
    }
}

impl TryFrom<pb::IssueServiceTokenRequest> for ClientCredentials {
    type Error = Violations;

    fn try_from(r: pb::IssueServiceTokenRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let client_id = v.check("client_id", ClientId::parse(&r.client_id));
        let secret = v.check("client_secret", Password::presented(&r.client_secret));
        match (client_id, secret) {
            (Some(client_id), Some(secret)) => Ok(ClientCredentials { client_id, secret }),
            _ => Err(v),
        }
    }
}

/// Parses the refresh token of a Refresh or Logout.
pub fn refresh_token(raw: &str) -> Result<PresentedToken, Violations> {
    PresentedToken::parse(raw).map_err(|why| Violations::one("refresh_token", why))
}

/// The contract's role for a token role.
pub fn role(r: Role) -> pb::Role {
    match r {
        Role::Customer => pb::Role::Customer,
        Role::Admin => pb::Role::Admin,
        Role::Service => pb::Role::Service,
    }
}

impl From<User> for pb::User {
    fn from(u: User) -> Self {
        pb::User {
            id: u.id,
            email: u.email,
            role: role(u.role).into(),
            create_time: Some(u.created_at.into()),
        }
    }
}

/// A published key as an OKP JSON Web Key (RFC 8037).
pub fn signing_key(key: &PublicKey) -> pb::SigningKey {
    let bytes = key.to_bytes();
    pb::SigningKey {
        kid: key.kid.clone(),
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        alg: ALGORITHM.into(),
        x: B64.encode(bytes),
        public_key: bytes.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_register_field_is_reported_at_once() {
        let err = Registration::try_from(pb::RegisterRequest {
            email: "nope".into(),
            password: "short".into(),
            request_id: "a b".into(),
        })
        .unwrap_err();
        let fields: Vec<_> = err.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["email", "password", "request_id"]);
    }

    #[test]
    fn a_signing_key_is_an_okp_jwk() {
        let key = travel::jwt::KeyPair::from_seed("k1", [5; 32]).public();
        let jwk = signing_key(&key);
        assert_eq!(
            (jwk.kty.as_str(), jwk.crv.as_str(), jwk.alg.as_str()),
            ("OKP", "Ed25519", "EdDSA")
        );
        assert_eq!(B64.decode(&jwk.x).unwrap(), jwk.public_key);
        assert_eq!(PublicKey::from_bytes("k1", &jwk.public_key), Some(key));
    }
}
