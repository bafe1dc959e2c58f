"""The stack's private CA and the certificates of the API and the XMPP servers."""

import subprocess

from stacklib.util import StackError


class PkiMixin:
    # -- paths ------------------------------------------------------------
    @property
    def pki(self):
        return self.dir / "pki"

    @property
    def ca_file(self):
        return self.pki / "ca.pem"

    # -- certificates -------------------------------------------------------
    def _openssl(self, *args):
        res = subprocess.run(["openssl", *args], cwd=self.pki, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        if res.returncode != 0:
            raise StackError(f"openssl {' '.join(args)} failed:\n{res.stdout.decode()}")

    def make_certificates(self):
        """A CA, a certificate for Prosody and one for the hub's HTTPS API."""
        self.pki.mkdir(parents=True, exist_ok=True)
        if (self.pki / "api.crt").exists() and self.ca_file.exists():
            return
        self._openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                      "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Muster test CA",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        leaves = {
            "xmpp": ("muster.localhost",
                     "DNS:muster.localhost,DNS:*.muster.localhost,DNS:localhost"),
            "api": ("localhost", "DNS:localhost,IP:127.0.0.1"),
        }
        for name, (cn, san) in leaves.items():
            ext = self.pki / f"{name}.ext"
            ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                           "keyUsage=critical,digitalSignature,keyEncipherment\n"
                           "extendedKeyUsage=serverAuth\n")
            self._openssl("req", "-new", "-newkey", "rsa:2048", "-nodes",
                          "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")
            self._openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem",
                          "-CAkey", "ca.key", "-CAcreateserial", "-days", "30", "-sha256",
                          "-out", f"{name}.crt", "-extfile", ext.name)
        for key in self.pki.glob("*.key"):
            key.chmod(0o600)
