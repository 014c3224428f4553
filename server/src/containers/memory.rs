//! Whether a model server failed for lack of GPU memory, from what it printed or answered: PyTorch's and
//! CUDA's words, llama.cpp's, and ACE-Step's VRAM pre-flight. Such a failure is worth one more try once
//! idle services have given their memory back; other failures are not.

/// Lowercase phrases that mean "the GPU is full" whatever else the line says.
const ALWAYS: [&str; 6] = [
    "cuda out of memory",
    "outofmemoryerror",
    "cudaerrormemoryallocation",
    "cublas_status_alloc_failed",
    "insufficient free vram",
    "failed to allocate cuda",
];

/// True when any line reports a GPU out-of-memory.
pub(super) fn out_of_gpu_memory<S: AsRef<str>>(lines: &[S]) -> bool {
    lines.iter().any(|line| {
        let line = line.as_ref().to_lowercase();
        ALWAYS.iter().any(|p| line.contains(p))
            || (line.contains("out of memory")
                && ["cuda", "gpu", "vram", "device"]
                    .iter()
                    .any(|w| line.contains(w)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_out_of_memory_is_recognised_in_the_words_servers_use() {
        for line in [
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.",
            "RuntimeError: CUDA error: out of memory",
            "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 4096.00 MiB on device 0: cudaMalloc failed: out of memory",
            "Insufficient free VRAM: need ~7.5 GB, only 3.1 GB free",
            "ValueError: No available memory for the cache blocks. CUBLAS_STATUS_ALLOC_FAILED",
        ] {
            assert!(out_of_gpu_memory(&[line]), "{line}");
        }
        for line in [
            "Out of memory: Killed process 4242 (python3) total-vm:61234112kB",
            "loading model: 40%",
            "MemoryError",
        ] {
            assert!(!out_of_gpu_memory(&[line]), "{line}");
        }
    }
}
