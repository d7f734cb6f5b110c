package dev.elbo4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/**
 * The messages of the CUDA and cuBLAS exceptions: the call, the result's enum name and code, the library's text,
 * then what elbo4j adds. Needs no CUDA backend (no "cuda" tag): a failing cuBLAS call cannot be provoked through
 * the checked Java API, so the cuBLAS side of the contract is pinned here.
 */
class CudaExceptionTest {

    @Test
    void aCublasStatusIsNamedWithItsTextAndTheDetail() {
        CublasException e = new CublasException("cublasSgemm_v2", 7, CublasApi.statusName(7),
                "an invalid value was used as an argument", "row-major m=2 n=3 k=4");

        assertEquals("cublasSgemm_v2 failed: CUBLAS_STATUS_INVALID_VALUE (7): an invalid value was used as an "
                + "argument; row-major m=2 n=3 k=4", e.getMessage());
        assertEquals("cublasSgemm_v2", e.call());
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", e.resultName());
        assertEquals(7, e.resultCode());
    }

    @Test
    void everyCublasStatusHasItsHeadersName() {
        // cublas_api.h (CUDA 12 and 13).
        assertEquals("CUBLAS_STATUS_SUCCESS", CublasApi.statusName(0));
        assertEquals("CUBLAS_STATUS_NOT_INITIALIZED", CublasApi.statusName(1));
        assertEquals("CUBLAS_STATUS_ALLOC_FAILED", CublasApi.statusName(3));
        assertEquals("CUBLAS_STATUS_ARCH_MISMATCH", CublasApi.statusName(8));
        assertEquals("CUBLAS_STATUS_MAPPING_ERROR", CublasApi.statusName(11));
        assertEquals("CUBLAS_STATUS_EXECUTION_FAILED", CublasApi.statusName(13));
        assertEquals("CUBLAS_STATUS_INTERNAL_ERROR", CublasApi.statusName(14));
        assertEquals("CUBLAS_STATUS_NOT_SUPPORTED", CublasApi.statusName(15));
        assertEquals("CUBLAS_STATUS_LICENSE_ERROR", CublasApi.statusName(16));
        assertEquals("CUBLAS_STATUS_UNRECOGNIZED_99", CublasApi.statusName(99));
    }

    @Test
    void emptyTextAndDetailAreLeftOut() {
        CudaException e = new CudaException("cuMemAlloc_v2", 2, "CUDA_ERROR_OUT_OF_MEMORY", "", " ");

        assertEquals("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2)", e.getMessage());
    }

    @Test
    void anErrorFoundWithoutTheDriverHasNoResult() {
        CudaException e = new CudaException("kernels()", "this jar was built without kernels");

        assertEquals("this jar was built without kernels", e.getMessage());
        assertEquals(CudaException.NO_RESULT, e.resultName());
        assertEquals(CudaException.NO_RESULT_CODE, e.resultCode());
        assertNull(e.getCause());
    }
}
