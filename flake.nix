# Nix build of Gatehouse: `nix build` gives the binary, `nix build .#image` an OCI image with
# the same layout as the Dockerfile (binary, CA certificates, /var/lib/gatehouse owned by user
# 65532, ports 9000 and 9300, `gatehouse healthcheck`). Load it with
# `docker load < result` or `podman load < result`.
{
  description = "Gatehouse: a small, fast identity provider in one Rust binary";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs:
        let
          gatehouse = pkgs.rustPlatform.buildRustPackage {
            pname = "gatehouse";
            version = (builtins.fromTOML (builtins.readFile ./Cargo.toml)).workspace.package.version;
            src = pkgs.lib.cleanSourceWith {
              src = ./.;
              filter = path: type:
                let name = baseNameOf path; in
                !(builtins.elem name [ "target" "data" "node_modules" ".git" ]);
            };
            cargoLock.lockFile = ./Cargo.lock;
            cargoBuildFlags = [ "-p" "gatehouse" ];
            # aws-lc-sys builds its C code with cmake; SQLite is bundled.
            nativeBuildInputs = [ pkgs.cmake pkgs.perl pkgs.go ];
            # The test suite needs PostgreSQL, Chromium and SMTP/OIDC peers: run scripts/test.
            doCheck = false;
            meta = {
              description = "A small, fast identity provider (OIDC, flows, MFA)";
              mainProgram = "gatehouse";
            };
          };
        in
        {
          inherit gatehouse;
          default = gatehouse;
          image = pkgs.dockerTools.buildLayeredImage {
            name = "gatehouse";
            tag = gatehouse.version;
            contents = [ pkgs.cacert ];
            extraCommands = ''
              mkdir -p var/lib/gatehouse tmp
              chmod 1777 tmp
            '';
            fakeRootCommands = ''
              chown 65532:65532 var/lib/gatehouse
              chmod 0700 var/lib/gatehouse
            '';
            config = {
              Entrypoint = [ "${gatehouse}/bin/gatehouse" ];
              Cmd = [ "serve" ];
              User = "65532:65532";
              Env = [
                "GATEHOUSE_LISTEN__HTTP=0.0.0.0:9000"
                "GATEHOUSE_LISTEN__METRICS=0.0.0.0:9300"
                "GATEHOUSE_DATA_DIR=/var/lib/gatehouse"
                "SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt"
              ];
              ExposedPorts = { "9000/tcp" = { }; "9300/tcp" = { }; };
              Volumes = { "/var/lib/gatehouse" = { }; };
              Healthcheck = {
                Test = [ "CMD" "${gatehouse}/bin/gatehouse" "healthcheck" ];
                Interval = 10000000000;
                Timeout = 6000000000;
                StartPeriod = 20000000000;
              };
            };
          };
        });
    };
}
