package fastblas

// Sdot returns Σ x[i]·y[i] over n elements, as gonum's does, on the AVX2
// FMA loop of the GEMV (four accumulators, a fixed order) where both
// strides are 1: an attention layer scores its keys and backpropagates
// them one vector of a few hundred elements at a time, where gonum's loop
// is four lanes wide. Other strides, and arguments gonum would reject, go
// to gonum.
func (impl Implementation) Sdot(n int, x []float32, incX int, y []float32, incY int) float32 {
	if incX != 1 || incY != 1 || n <= 0 || len(x) < n || len(y) < n {
		return impl.Implementation.Sdot(n, x, incX, y, incY)
	}
	return dot(x[:n], y[:n], current.Load().name != pathGeneric)
}

// Ddot is Sdot for float64.
func (impl Implementation) Ddot(n int, x []float64, incX int, y []float64, incY int) float64 {
	if incX != 1 || incY != 1 || n <= 0 || len(x) < n || len(y) < n {
		return impl.Implementation.Ddot(n, x, incX, y, incY)
	}
	return dot(x[:n], y[:n], current.Load().name != pathGeneric)
}

// Saxpy adds alpha·x[i] to y[i] over n elements, as gonum's does, on the
// AVX2 FMA loop where both strides are 1 (see Sdot).
func (impl Implementation) Saxpy(n int, alpha float32, x []float32, incX int, y []float32, incY int) {
	if incX != 1 || incY != 1 || n <= 0 || len(x) < n || len(y) < n || alpha == 0 {
		impl.Implementation.Saxpy(n, alpha, x, incX, y, incY)
		return
	}
	axpy(alpha, x[:n], y[:n], current.Load().name != pathGeneric)
}

// Daxpy is Saxpy for float64.
func (impl Implementation) Daxpy(n int, alpha float64, x []float64, incX int, y []float64, incY int) {
	if incX != 1 || incY != 1 || n <= 0 || len(x) < n || len(y) < n || alpha == 0 {
		impl.Implementation.Daxpy(n, alpha, x, incX, y, incY)
		return
	}
	axpy(alpha, x[:n], y[:n], current.Load().name != pathGeneric)
}
