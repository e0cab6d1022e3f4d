"""Image files for upload tests, made with Pillow."""

import io
import struct
import zlib

from PIL import Image


def jpeg_with_gps(size=(800, 600)) -> bytes:
    image = Image.new("RGB", size, "red")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # camera make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 24.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png(size=(64, 48), mode="RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (0, 128, 255, 128) if mode == "RGBA" else "blue").save(out, "PNG")
    return out.getvalue()


def jpeg(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "green").save(out, "JPEG")
    return out.getvalue()


def with_garbled_exif(fmt: str, size=(64, 48)) -> bytes:
    """An image whose EXIF block is not TIFF data (as some phones' and editors' files are)."""
    out = io.BytesIO()
    Image.new("RGB", size, "purple").save(out, fmt, dpi=(72, 72), exif=b"Exif\x00\x00garbage!garbage!")
    return out.getvalue()


def png_header(size: tuple[int, int]) -> bytes:
    """A PNG that declares `size` and holds no pixel data: a few dozen bytes, however large it claims to be."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", *size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def png_without_pixels(size=(20, 20)) -> bytes:
    """A PNG of its signature, header and end chunks only: the header says 20x20, and no pixel data follows."""
    whole = png(size, mode="RGB")
    header_end = 8 + 8 + 13 + 4  # signature, then IHDR's length and type, its 13 bytes, its CRC
    return whole[:header_end] + whole[-12:]  # the IEND chunk


def multi_picture_jpeg(size=(64, 48)) -> bytes:
    """A JPEG holding a second picture after the first (MPO), as many phones write their photos."""
    out = io.BytesIO()
    first, second = Image.new("RGB", size, "red"), Image.new("RGB", size, "blue")
    first.save(out, "MPO", save_all=True, append_images=[second])
    return out.getvalue()
