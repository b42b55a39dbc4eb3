"""First-party Clawline plugins. Each one is a package with its code, a manifest, a README and tests."""
