//! Array and picture files: .npy written and read back through the file
//! system, and montage PNGs decoded again with the `png` crate.

mod io_common;

use io_common::Scratch;
use vtwin::output::io::{self, IoError};

#[test]
fn npy_file_round_trip_and_alignment() {
    let dir = Scratch::new("npy");
    let path = dir.path().join("u.npy");
    let data: Vec<f32> = (0..4 * 5 * 3).map(|i| (i as f32).sin() * 1e-3).collect();
    io::write_npy_f32(&path, &[4, 5, 3], &data).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len() % 4, 0);
    assert_eq!(
        (bytes.len() - data.len() * 4) % 64,
        0,
        "data must start at a multiple of 64"
    );
    let (shape, back) = io::read_npy_f32(&path).unwrap();
    assert_eq!(shape, vec![4, 5, 3]);
    assert_eq!(
        back.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        data.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn npy_errors_name_the_file() {
    let dir = Scratch::new("npy-bad");
    let path = dir.path().join("map.npy");
    std::fs::write(&path, b"\x93NUMPY\x01\x00").unwrap();
    let err = io::read_npy_f32(&path).unwrap_err();
    assert!(matches!(err, IoError::Npy { .. }));
    assert!(err.to_string().contains("map.npy"), "{err}");
    let err = io::write_npy_f32(&path, &[3, 3], &[0.0; 8]).unwrap_err();
    assert!(
        err.to_string().contains("map.npy") && err.to_string().contains("9 values"),
        "{err}"
    );
}

#[test]
fn montage_png_decodes_to_the_same_pixels() {
    let dir = Scratch::new("png");
    let path = dir.path().join("fields.png");
    let a: Vec<f32> = (0..12).map(|i| i as f32).collect();
    let b: Vec<f32> = (0..12).map(|i| -(i as f32)).collect();
    let (w, h, rgba) = io::field_montage(&[&a, &b, &a], 4, 3, 3, 2);
    assert_eq!((w, h), (3 * 8 + 2, 6));
    io::write_png_rgba(&path, w, h, &rgba).unwrap();
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (w, h));
    assert_eq!(info.color_type, png::ColorType::Rgba);
    assert_eq!(&buf[..info.buffer_size()], &rgba[..]);
    // Field b is a's mirror: its first cell is the maximum.
    assert_eq!(&rgba[9 * 4..9 * 4 + 3], &io::colormap(1.0));
    let err = io::write_png_rgba(&path, 2, 2, &[0; 15]).unwrap_err();
    assert!(
        err.to_string().contains("fields.png") && err.to_string().contains("16 bytes"),
        "{err}"
    );
}
