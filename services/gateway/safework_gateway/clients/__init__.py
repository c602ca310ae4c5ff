"""OAuth2 clients (labs, enterprises, authorities) and the client-credentials grant (RFC 6749 §4.4)."""
