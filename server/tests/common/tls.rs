//! Certificates for a Docker engine that listens on TLS, made here with rcgen: a CA, the engine's
//! certificate for its address, our client certificate, and a second CA that signed none of them.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};

/// Where the files are.
pub struct Files {
    /// The engine's `--tlscacert`, `--tlscert` and `--tlskey`.
    pub server: [PathBuf; 3],
    /// A `DOCKER_CERT_PATH`: `ca.pem`, `cert.pem`, `key.pem`.
    pub client: PathBuf,
    /// The same, but its `ca.pem` is another CA's: the engine's certificate cannot be verified with it.
    pub wrong_ca: PathBuf,
}

fn ca(name: &str) -> Result<(String, Issuer<'static, KeyPair>), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let pem = params.self_signed(&key)?.pem();
    Ok((pem, Issuer::new(params, key)))
}

fn leaf(
    names: Vec<String>,
    purpose: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, KeyPair>,
) -> Result<(String, String), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names)?;
    params.extended_key_usages = vec![purpose];
    Ok((params.signed_by(&key, issuer)?.pem(), key.serialize_pem()))
}

/// Writes the files under `dir` for an engine at `machine` (an IP address or a name).
pub fn make(dir: &Path, machine: &str) -> Result<Files, String> {
    let made = (|| {
        let (ca_pem, issuer) = ca("tsuzuki test CA")?;
        let (other_pem, _) = ca("some other CA")?;
        let names = vec![machine.to_string(), "localhost".into(), "127.0.0.1".into()];
        let server = leaf(names, ExtendedKeyUsagePurpose::ServerAuth, &issuer)?;
        let client = leaf(Vec::new(), ExtendedKeyUsagePurpose::ClientAuth, &issuer)?;
        Ok::<_, rcgen::Error>((ca_pem, other_pem, server, client))
    })();
    let (ca_pem, other_pem, server, client) = made.map_err(|e| e.to_string())?;
    let write = |path: PathBuf, text: &str| {
        std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        Ok::<_, String>(path)
    };
    let files = Files {
        server: [
            write(dir.join("server/ca.pem"), &ca_pem)?,
            write(dir.join("server/cert.pem"), &server.0)?,
            write(dir.join("server/key.pem"), &server.1)?,
        ],
        client: dir.join("client"),
        wrong_ca: dir.join("wrong-ca"),
    };
    for (folder, ca) in [(&files.client, &ca_pem), (&files.wrong_ca, &other_pem)] {
        write(folder.join("ca.pem"), ca)?;
        write(folder.join("cert.pem"), &client.0)?;
        write(folder.join("key.pem"), &client.1)?;
    }
    Ok(files)
}
