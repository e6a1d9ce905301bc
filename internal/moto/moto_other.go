//go:build !unix

package moto

// Server is a running moto_server; there is none off Unix.
type Server struct {
	// URL is http://127.0.0.1:PORT.
	URL string
}

// Start returns ErrUnixOnly.
func Start() (*Server, error) { return nil, ErrUnixOnly }

// Reset returns ErrUnixOnly.
func (s *Server) Reset() error { return ErrUnixOnly }

// Close does nothing.
func (s *Server) Close() {}

// Supported returns ErrUnixOnly.
func Supported() error { return ErrUnixOnly }
