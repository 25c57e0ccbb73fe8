//! The argon2id computations themselves, in a hashing thread's own memory:
//! a new PHC string with [`params`], and the constant-time check of a
//! password against a stored one (its own parameters, bounded).

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Largest argon2 memory a stored hash may ask for, in KiB blocks (64 MiB).
const MAX_MEMORY_BLOCKS: usize = 64 * 1024;

/// Memory of a new hash, in KiB: 7 MiB.
pub(super) const MEMORY_KIB: u32 = 7 * 1024;
/// Passes over that memory.
const PASSES: u32 = 5;

/// The parameters of a new hash: argon2id with 7 MiB and 5 passes, one lane.
/// OWASP's password storage cheat sheet lists it as as strong as the argon2
/// crate's default (19 MiB, 2 passes): a smaller memory paid for with more
/// passes, the same CPU time. Why not the default: each hashing thread keeps
/// its memory, and 19 MiB a thread was most of the service's resident memory
/// (BENCHMARKS.md, "Memory"). Hashes stored with other parameters keep them and
/// still verify.
pub(super) fn params() -> Result<Params, argon2::password_hash::Error> {
    Params::new(MEMORY_KIB, PASSES, 1, Some(Params::DEFAULT_OUTPUT_LEN))
        .map_err(|_| argon2::password_hash::Error::ParamsInvalid)
}

/// The thread's argon2 memory, sized for `params` (resized only when they change).
fn memory_for<'m>(
    memory: &'m mut Vec<Block>,
    params: &Params,
) -> Result<&'m mut [Block], argon2::password_hash::Error> {
    let blocks = params.block_count();
    if blocks > MAX_MEMORY_BLOCKS {
        return Err(argon2::password_hash::Error::ParamsInvalid);
    }
    if memory.len() != blocks {
        *memory = vec![Block::new(); blocks];
    }
    Ok(memory)
}

/// The argon2id PHC string of `password` with `salt` and [`params`].
pub(super) fn hash_in(
    memory: &mut Vec<Block>,
    password: &[u8],
    salt: &[u8],
) -> Result<String, argon2::password_hash::Error> {
    let params = params()?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2.hash_password_into_with_memory(password, salt, &mut out, memory_for(memory, &params)?)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(Salt::new(salt)?),
        hash: Some(Output::new(&out)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `stored` (its own algorithm,
/// version and parameters), compared in constant time.
pub(super) fn verify_in(
    memory: &mut Vec<Block>,
    password: &[u8],
    stored: &str,
) -> Result<bool, argon2::password_hash::Error> {
    use argon2::password_hash::Error as E;
    let phc = PasswordHash::new(stored)?;
    let algorithm = Algorithm::try_from(phc.algorithm.as_str())?;
    let version = phc.version.map(Version::try_from).transpose()?.unwrap_or_default();
    let params = Params::try_from(&phc)?;
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return Err(E::EncodingInvalid);
    };
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    argon2.hash_password_into_with_memory(password, salt.as_ref(), &mut out, memory_for(memory, &params)?)?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out)? == *expected)
}
