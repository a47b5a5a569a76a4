#!/usr/bin/env python3
# Used by `npm run bench` (bench/codecs.ts) to time one restore phase on its own: decompressing a
# base backup's tar with the same Python libraries barman-cloud-restore uses (gzip/bz2 from the
# standard library, python3-snappy's stream format, python3-lz4's frame format; python3-zstandard
# for comparison), and unpacking a plain tar with Python's tarfile as barman does
# (barman/cloud.py: CloudInterface.extract_tar). It prints nothing but errors; the caller times it.
#
#   codec.py decompress <codec> <in-file>           decompress to nowhere (CPU only)
#   codec.py compress <codec> <in-file> <out-file>  for codecs the installed barman cannot write
#   codec.py unpack <tar-file> <dir>                tarfile.extractall, like barman-cloud-restore
import shutil
import sys
import tarfile

CHUNK = 1 << 20


def codec_module(codec):
    if codec == "gzip":
        import gzip

        return gzip
    if codec == "bzip2":
        import bz2

        return bz2
    if codec == "lz4":
        import lz4.frame

        return lz4.frame
    raise SystemExit(f"codec.py: no file module for {codec}")


class Nowhere:
    def write(self, data):
        return len(data)


def decompress(codec, src):
    with open(src, "rb") as fin:
        if codec == "snappy":
            import snappy

            # barman writes snappy's framing format (snappy.StreamCompressor).
            snappy.stream_decompress(fin, Nowhere())
        elif codec == "zstd":
            import zstandard

            zstandard.ZstdDecompressor().copy_stream(fin, Nowhere())
        else:
            with codec_module(codec).open(fin, "rb") as f:
                shutil.copyfileobj(f, Nowhere(), CHUNK)


def compress(codec, src, dst):
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        if codec == "snappy":
            import snappy

            snappy.stream_compress(fin, fout)
        elif codec == "zstd":
            import zstandard

            zstandard.ZstdCompressor().copy_stream(fin, fout)
        else:
            with codec_module(codec).open(fout, "wb") as f:
                shutil.copyfileobj(fin, f, CHUNK)


def unpack(src, dst):
    # Streaming mode ("r|"), as barman-cloud-restore reads the tar from the S3 response.
    with open(src, "rb") as fin, tarfile.open(fileobj=fin, mode="r|") as tf:
        tf.extractall(path=dst)


def main(argv):
    if len(argv) >= 3 and argv[0] == "decompress":
        decompress(argv[1], argv[2])
    elif len(argv) >= 4 and argv[0] == "compress":
        compress(argv[1], argv[2], argv[3])
    elif len(argv) >= 3 and argv[0] == "unpack":
        unpack(argv[1], argv[2])
    else:
        raise SystemExit(__doc__ or "usage: codec.py decompress|compress|unpack ...")


if __name__ == "__main__":
    main(sys.argv[1:])
