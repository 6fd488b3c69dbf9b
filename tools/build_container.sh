#!/usr/bin/env bash
# Build the lofar-hires container image named by the DockerRequirement hint of steps/*.cwl.
#
# Usage: tools/build_container.sh [podman|docker|apptainer] [--base debootstrap|registry] [--workdir DIR]
#
#   podman, docker  build containers/Containerfile as lofar-hires:<version> (default: podman)
#   apptainer       build containers/lofar-hires.def as DIR/lofar-hires_<version>.sif
#                   (singularity is used when apptainer is not installed)
#   --base registry     start from debian:bookworm-slim (needs access to Docker Hub; the default)
#   --base debootstrap  start from Debian 12 made with debootstrap from the Debian archive and
#                       imported as localhost/debian:bookworm-base (needs root and debootstrap);
#                       made once, reused when it exists; apptainer always builds this way
#   --workdir DIR       build artefacts: the debootstrap tree (removed after the import) and the
#                       .sif file (default ${XDG_CACHE_HOME:-~/.cache}/lofar-hires/container-build)
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian); PIP_CERT, a CA bundle that
# pip needs behind a TLS-intercepting proxy, is handed to the build and not stored in the image.
# The build runs with the host network. Prints the image and its size at the end.
# Exit status: 0 built, 2 bad usage or missing prerequisite (one line on stderr), else the
# runtime's own status.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE_TAG=localhost/debian:bookworm-base
REGISTRY_BASE=debian:bookworm-slim
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

die() {
    echo "build_container.sh: $*" >&2
    exit 2
}

runtime=podman
base=""
workdir="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/lofar-hires/container-build"
while [ $# -gt 0 ]; do
    case "$1" in
        podman|docker|apptainer) runtime=$1 ;;
        singularity) runtime=apptainer ;;
        --base)
            [ $# -ge 2 ] || die "--base needs a value: debootstrap or registry"
            base=$2
            shift ;;
        --base=*) base=${1#--base=} ;;
        --workdir)
            [ $# -ge 2 ] || die "--workdir needs a directory"
            workdir=$2
            shift ;;
        --workdir=*) workdir=${1#--workdir=} ;;
        -h|--help)
            sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0 ;;
        *) die "unknown argument '$1' (usage: tools/build_container.sh [podman|docker|apptainer] [--base debootstrap|registry] [--workdir DIR])" ;;
    esac
    shift
done

if [ "$runtime" = apptainer ]; then
    base=${base:-debootstrap}
    [ "$base" = debootstrap ] || die "apptainer builds from the Debian archive (containers/lofar-hires.def): use --base debootstrap"
else
    base=${base:-registry}
fi
case "$base" in
    debootstrap|registry) ;;
    *) die "--base must be debootstrap or registry, not '$base'" ;;
esac

version=$(sed -n 's/^version = "\([^"]*\)"$/\1/p' "$REPO/pyproject.toml" | head -n 1)
[ -n "$version" ] || die "no version in $REPO/pyproject.toml"
image="lofar-hires:$version"

# The runtime binary (apptainer, else singularity).
if [ "$runtime" = apptainer ]; then
    if command -v apptainer >/dev/null 2>&1; then
        rt=apptainer
    elif command -v singularity >/dev/null 2>&1; then
        rt=singularity
    else
        die "neither apptainer nor singularity is installed; install Apptainer (https://apptainer.org) or use podman"
    fi
else
    command -v "$runtime" >/dev/null 2>&1 || die "$runtime is not installed; install it (Debian: apt-get install $runtime) or choose another runtime"
    rt=$runtime
fi
if [ "$rt" = docker ]; then
    docker info >/dev/null 2>&1 || die "docker cannot reach a Docker daemon ('docker info' fails); start it or use podman"
    # RUN --mount=type=secret in containers/Containerfile needs BuildKit (the buildx plugin).
    docker buildx version >/dev/null 2>&1 || die "docker has no BuildKit (buildx plugin), which containers/Containerfile needs; install docker-buildx or use podman"
fi

need_root_debootstrap() {
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (Debian: apt-get install debootstrap)"
    [ "$(id -u)" -eq 0 ] || die "--base debootstrap needs root (debootstrap creates device files and sets owners)"
}

# Debian 12 from the archive, imported as $BASE_TAG (podman/docker); skipped when it exists.
make_debootstrap_base() {
    if "$rt" image inspect "$BASE_TAG" >/dev/null 2>&1; then
        echo "base image $BASE_TAG exists"
        return
    fi
    need_root_debootstrap
    mkdir -p "$workdir"
    local rootfs="$workdir/rootfs-$SUITE"
    rm -rf "$rootfs"  # a tree left by an interrupted run
    echo "debootstrap $SUITE from $MIRROR into $rootfs"
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | "$rt" import - "$BASE_TAG"
    rm -rf "$rootfs"
}

cd "$REPO"
start=$(date +%s)
case "$runtime" in
    podman|docker)
        from=$REGISTRY_BASE
        if [ "$base" = debootstrap ]; then
            make_debootstrap_base
            from=$BASE_TAG
        fi
        build=("$rt" build --network host --build-arg "BASE_IMAGE=$from" -t "$image" -f containers/Containerfile)
        if [ -n "${PIP_CERT:-}" ] && [ -s "$PIP_CERT" ]; then
            build+=(--secret "id=pip_cert,src=$PIP_CERT")
        fi
        "${build[@]}" .
        echo "built $image from $from in $(( $(date +%s) - start )) s"
        bytes=$("$rt" image inspect --format '{{.Size}}' "$image")
        echo "image $image: $bytes bytes ($(( bytes / 1000000 )) MB)"
        "$rt" image ls "$image"
        ;;
    apptainer)
        need_root_debootstrap
        mkdir -p "$workdir"
        sif="$workdir/lofar-hires_$version.sif"
        # The %setup section copies $PIP_CERT into the build (removed in %post).
        PIP_CERT=${PIP_CERT:-} "$rt" build --force "$sif" containers/lofar-hires.def
        echo "built $sif in $(( $(date +%s) - start )) s"
        echo "image $sif: $(stat -c %s "$sif") bytes ($(du -h "$sif" | cut -f 1))"
        ;;
esac
