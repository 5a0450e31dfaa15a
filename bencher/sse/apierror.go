package sse

// APIError is an error object that an OpenAI-compatible server sent, either
// in the stream after answering HTTP 200 (data: {"error": {...}}) or as the
// body of an error response. Both the nested form {"error": {"message",
// "type", "param", "code"}} and the older flat form {"object": "error",
// "message", ...} are read.
type APIError struct {
	// Message is the server's description of the error.
	Message string
	// Type is the error's type, such as "BadRequestError".
	Type string
	// Param names the request parameter at fault, when the server says.
	Param string
	// Code is the error code as sent: a number such as "400", or a string
	// such as "invalid_api_key". Empty when null or absent.
	Code string
}

var _ error = (*APIError)(nil)

// Error returns "server error: MESSAGE (type TYPE, code CODE)", leaving out
// the parts the server did not send.
func (e *APIError) Error() string {
	msg := "server error: " + e.Message
	if e.Message == "" {
		msg = "server error: (no message)"
	}
	switch {
	case e.Type != "" && e.Code != "":
		return msg + " (type " + e.Type + ", code " + e.Code + ")"
	case e.Type != "":
		return msg + " (type " + e.Type + ")"
	case e.Code != "":
		return msg + " (code " + e.Code + ")"
	}
	return msg
}

// apiFields holds the raw JSON values of an error's fields while parsing.
type apiFields struct {
	message, typ, param, code []byte
}

// build decodes the raw values into a new APIError.
func (f *apiFields) build() *APIError {
	return &APIError{
		Message: valueString(f.message),
		Type:    valueString(f.typ),
		Param:   valueString(f.param),
		Code:    valueString(f.code),
	}
}

// valueString turns a raw JSON value into text: a string is decoded, null and
// absence give "", anything else is kept as written.
func valueString(raw []byte) string {
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return ""
	case raw[0] == '"':
		return Text(raw[1 : len(raw)-1]).String()
	}
	return string(raw)
}

// errorValue reads the top-level "error" member: an object of fields, or a
// bare message string. null (or another type) means no error.
func (p *parser) errorValue() error {
	p.errObj, p.nested = false, apiFields{}
	switch p.ws() {
	case '"':
		p.errObj = true
		return p.errorField(&p.nested, []byte("message"))
	case '{':
		p.errObj = true
		return p.object(inError)
	}
	return p.skip()
}

// errorField reads the value of an error's field key into f, keeping it raw.
func (p *parser) errorField(f *apiFields, key []byte) error {
	p.ws()
	start := p.i
	if err := p.skip(); err != nil {
		return err
	}
	raw := p.b[start:p.i]
	switch string(key) {
	case "message":
		f.message = raw
	case "type":
		f.typ = raw
	case "param":
		f.param = raw
	case "code":
		f.code = raw
	}
	return nil
}
