/* JSON Schema validation of event payloads: the C API of include/ndx/schema.h
 * over valijson (header-only C++, Debian's libvalijson-dev 1.0). Debian's
 * valijson has no jansson adapter, so this file carries one (the classes
 * follow valijson's json11 adapter). Before valijson sees a schema, a walk
 * of our own refuses what would hurt us (size, depth, remote or dangling
 * "$ref", $ref/allOf/... cycles that never descend into the instance,
 * overlong or uncompilable patterns) and compiles every pattern with PCRE2.
 * valijson's std::regex matching of "pattern" and "patternProperties" is
 * replaced (explicit specialisations of its visitor's members for our
 * adapter) by PCRE2 under match and heap limits, and its "format" check
 * bounds the string's length first: std::regex recurses per character and
 * backtracks exponentially, see the "Limits" in the header. No exception
 * leaves this file. Overview: docs/architecture.md, "libndx". */

#define VALIJSON_USE_EXCEPTIONS 1
/* GCC 12 with ASan at -O2/-O3 warns "may be used uninitialized" inside
 * libstdc++'s std::regex/std::function (instantiated by valijson): a known
 * false positive in a system header, fatal under -Werror. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define PCRE2_CODE_UNIT_WIDTH 8

#include "ndx/schema.h"
/* err.h has no extern "C" of its own: the rest of libndx is C. */
extern "C" {
#include "ndx/err.h"
}

#include <pcre2.h>

#include <cassert>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <valijson/internal/adapter.hpp>
#include <valijson/internal/basic_adapter.hpp>
#include <valijson/internal/frozen_value.hpp>
#include <valijson/exceptions.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validation_visitor.hpp>
#include <valijson/validator.hpp>

/* ------------------------------------------------------------------------
 * The jansson adapter. A value is a `const json_t *`; NULL stands for the
 * empty object valijson's default-constructed adapters expect. Only reads:
 * jansson's getters and iterators do not modify, so threads may share the
 * values (the casts drop const for jansson's non-const iterator API only).
 * ---------------------------------------------------------------------- */
namespace valijson {
namespace adapters {

class JanssonAdapter;
class JanssonArrayValueIterator;
class JanssonObjectMemberIterator;

typedef std::pair<std::string, JanssonAdapter> JanssonObjectMember;

class JanssonArray {
public:
	typedef JanssonArrayValueIterator const_iterator;
	typedef JanssonArrayValueIterator iterator;

	JanssonArray() : m_value(nullptr) {}
	explicit JanssonArray(const json_t *value) : m_value(value)
	{
		if (!json_is_array(value))
			throwRuntimeError("Value is not an array.");
	}
	JanssonArrayValueIterator begin() const;
	JanssonArrayValueIterator end() const;
	size_t size() const { return m_value ? json_array_size(m_value) : 0; }

private:
	const json_t *m_value;
};

class JanssonObject {
public:
	typedef JanssonObjectMemberIterator const_iterator;
	typedef JanssonObjectMemberIterator iterator;

	JanssonObject() : m_value(nullptr) {}
	explicit JanssonObject(const json_t *value) : m_value(value)
	{
		if (!json_is_object(value))
			throwRuntimeError("Value is not an object.");
	}
	JanssonObjectMemberIterator begin() const;
	JanssonObjectMemberIterator end() const;
	JanssonObjectMemberIterator find(const std::string &name) const;
	size_t size() const { return m_value ? json_object_size(m_value) : 0; }

private:
	const json_t *m_value;
};

/* An independent deep copy (enum and const values live in the compiled
 * schema after the caller has freed the schema document). */
class JanssonFrozenValue : public FrozenValue {
public:
	explicit JanssonFrozenValue(const json_t *source)
		: m_value(source ? json_deep_copy(source) : json_object())
	{
		if (!m_value)
			throw std::bad_alloc();
	}
	~JanssonFrozenValue() override { json_decref(m_value); }
	JanssonFrozenValue(const JanssonFrozenValue &) = delete;
	JanssonFrozenValue &operator=(const JanssonFrozenValue &) = delete;

	FrozenValue *clone() const override { return new JanssonFrozenValue(m_value); }
	bool equalTo(const Adapter &other, bool strict) const override;

private:
	json_t *m_value;
};

/* A real with an integral value in range is an integer too: draft 6 and
 * later say 1.0 is an integer. */
static bool jansson_integral(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
		    d == static_cast<double>(static_cast<int64_t>(d))) {
			*out = static_cast<int64_t>(d);
			return true;
		}
	}
	return false;
}

class JanssonValue {
public:
	JanssonValue() : m_value(nullptr) {}
	JanssonValue(const json_t *value) : m_value(value) {}

	FrozenValue *freeze() const { return new JanssonFrozenValue(m_value); }

	opt::optional<JanssonArray> getArrayOptional() const
	{
		if (json_is_array(m_value))
			return opt::make_optional(JanssonArray(m_value));
		return {};
	}
	bool getArraySize(size_t &result) const
	{
		if (!json_is_array(m_value))
			return false;
		result = json_array_size(m_value);
		return true;
	}
	bool getBool(bool &result) const
	{
		if (!json_is_boolean(m_value))
			return false;
		result = json_is_true(m_value);
		return true;
	}
	bool getDouble(double &result) const
	{
		if (!json_is_number(m_value))
			return false;
		result = json_number_value(m_value);
		return true;
	}
	bool getInteger(int64_t &result) const { return jansson_integral(m_value, &result); }
	opt::optional<JanssonObject> getObjectOptional() const
	{
		if (!m_value)
			return opt::make_optional(JanssonObject());
		if (json_is_object(m_value))
			return opt::make_optional(JanssonObject(m_value));
		return {};
	}
	bool getObjectSize(size_t &result) const
	{
		if (!m_value) {
			result = 0;
			return true;
		}
		if (!json_is_object(m_value))
			return false;
		result = json_object_size(m_value);
		return true;
	}
	bool getString(std::string &result) const
	{
		if (!json_is_string(m_value))
			return false;
		result.assign(json_string_value(m_value), json_string_length(m_value));
		return true;
	}
	static bool hasStrictTypes() { return true; }
	bool isArray() const { return json_is_array(m_value); }
	bool isBool() const { return json_is_boolean(m_value); }
	bool isDouble() const { return json_is_real(m_value); }
	bool isInteger() const
	{
		int64_t ignored;
		return jansson_integral(m_value, &ignored);
	}
	bool isNull() const { return json_is_null(m_value); }
	bool isNumber() const { return json_is_number(m_value); }
	bool isObject() const { return !m_value || json_is_object(m_value); }
	bool isString() const { return json_is_string(m_value); }

private:
	const json_t *m_value;
};

class JanssonAdapter : public BasicAdapter<JanssonAdapter, JanssonArray, JanssonObjectMember,
					   JanssonObject, JanssonValue> {
public:
	JanssonAdapter() : BasicAdapter() {}
	JanssonAdapter(const json_t *value) : BasicAdapter(value) {}
	/* For valijson's fetched documents, which we never give it. */
	explicit JanssonAdapter(const json_t &value) : BasicAdapter(&value) {}
};

class JanssonArrayValueIterator {
public:
	using iterator_category = std::bidirectional_iterator_tag;
	using value_type = JanssonAdapter;
	using difference_type = JanssonAdapter;
	using pointer = JanssonAdapter *;
	using reference = JanssonAdapter &;

	JanssonArrayValueIterator(const json_t *array, size_t index)
		: m_array(array), m_index(index) {}
	JanssonAdapter operator*() const { return JanssonAdapter(json_array_get(m_array, m_index)); }
	DerefProxy<JanssonAdapter> operator->() const { return DerefProxy<JanssonAdapter>(**this); }
	bool operator==(const JanssonArrayValueIterator &o) const
	{
		return m_array == o.m_array && m_index == o.m_index;
	}
	bool operator!=(const JanssonArrayValueIterator &o) const { return !(*this == o); }
	const JanssonArrayValueIterator &operator++()
	{
		m_index++;
		return *this;
	}
	JanssonArrayValueIterator operator++(int)
	{
		JanssonArrayValueIterator pre(*this);
		++(*this);
		return pre;
	}
	const JanssonArrayValueIterator &operator--()
	{
		m_index--;
		return *this;
	}
	void advance(std::ptrdiff_t n) { m_index = static_cast<size_t>(static_cast<std::ptrdiff_t>(m_index) + n); }

private:
	const json_t *m_array;
	size_t m_index;
};

/* jansson's object iterators go forward only; valijson needs no more. */
class JanssonObjectMemberIterator {
public:
	using iterator_category = std::forward_iterator_tag;
	using value_type = JanssonObjectMember;
	using difference_type = JanssonObjectMember;
	using pointer = JanssonObjectMember *;
	using reference = JanssonObjectMember &;

	JanssonObjectMemberIterator(const json_t *object, void *iter)
		: m_object(object), m_iter(iter) {}
	JanssonObjectMember operator*() const
	{
		return JanssonObjectMember(
			std::string(json_object_iter_key(m_iter), json_object_iter_key_len(m_iter)),
			JanssonAdapter(json_object_iter_value(m_iter)));
	}
	DerefProxy<JanssonObjectMember> operator->() const
	{
		return DerefProxy<JanssonObjectMember>(**this);
	}
	bool operator==(const JanssonObjectMemberIterator &o) const { return m_iter == o.m_iter; }
	bool operator!=(const JanssonObjectMemberIterator &o) const { return m_iter != o.m_iter; }
	const JanssonObjectMemberIterator &operator++()
	{
		m_iter = json_object_iter_next(const_cast<json_t *>(m_object), m_iter);
		return *this;
	}
	JanssonObjectMemberIterator operator++(int)
	{
		JanssonObjectMemberIterator pre(*this);
		++(*this);
		return pre;
	}

private:
	const json_t *m_object;
	void *m_iter;
};

template <> struct AdapterTraits<valijson::adapters::JanssonAdapter> {
	typedef json_t DocumentType;
	static std::string adapterName() { return "JanssonAdapter"; }
};

inline bool JanssonFrozenValue::equalTo(const Adapter &other, bool strict) const
{
	return JanssonAdapter(m_value).equalTo(other, strict);
}
inline JanssonArrayValueIterator JanssonArray::begin() const { return {m_value, 0}; }
inline JanssonArrayValueIterator JanssonArray::end() const { return {m_value, size()}; }
inline JanssonObjectMemberIterator JanssonObject::begin() const
{
	return {m_value, m_value ? json_object_iter(const_cast<json_t *>(m_value)) : nullptr};
}
inline JanssonObjectMemberIterator JanssonObject::end() const { return {m_value, nullptr}; }
inline JanssonObjectMemberIterator JanssonObject::find(const std::string &name) const
{
	if (!m_value || name.find('\0') != std::string::npos)
		return end();
	return {m_value, json_object_iter_at(const_cast<json_t *>(m_value), name.c_str())};
}

} // namespace adapters
} // namespace valijson

/* ------------------------------------------------------------------------
 * Patterns: compiled once with PCRE2 at schema compile, matched under
 * limits. The visitor finds the current schema's patterns through a
 * thread-local pointer that ndx_schema_validate sets for the duration of
 * one validation (valijson gives its visitors no user context).
 * ---------------------------------------------------------------------- */
namespace {

/* The matcher's budget for one value: roughly milliseconds of work and a
 * few MiB of backtracking frames (heap, never the stack). */
constexpr uint32_t MATCH_LIMIT = 1000000;
constexpr uint32_t DEPTH_LIMIT = 100000;
constexpr uint32_t HEAP_LIMIT_KIB = 4096;
/* "date", "time", "date-time" values are short; longer strings fail the
 * format before std::regex sees them (it recurses once per character). */
constexpr size_t MAX_FORMAT_INPUT = 64;

struct Patterns {
	std::unordered_map<std::string, pcre2_code *> codes;
	pcre2_match_context *mctx = nullptr;

	Patterns() = default;
	Patterns(const Patterns &) = delete;
	Patterns &operator=(const Patterns &) = delete;
	~Patterns()
	{
		for (auto &c : codes)
			pcre2_code_free(c.second);
		pcre2_match_context_free(mctx);
	}
};

thread_local const Patterns *tl_patterns = nullptr;

enum class Match { yes, no, too_costly };

Match pattern_search(const std::string &pattern, const std::string &subject)
{
	const Patterns *p = tl_patterns;
	if (!p)
		throw std::logic_error("pattern matched outside a validation");
	auto it = p->codes.find(pattern);
	if (it == p->codes.end())
		throw std::logic_error("pattern was not compiled: " + pattern);
	pcre2_match_data *md = pcre2_match_data_create(1, nullptr);
	if (!md)
		throw std::bad_alloc();
	int rc = pcre2_match(it->second, reinterpret_cast<PCRE2_SPTR>(subject.data()),
			     subject.size(), 0, 0, md, p->mctx);
	pcre2_match_data_free(md);
	if (rc >= 0)
		return Match::yes;
	if (rc == PCRE2_ERROR_NOMATCH)
		return Match::no;
	if (rc == PCRE2_ERROR_NOMEMORY)
		throw std::bad_alloc();
	/* PCRE2_ERROR_MATCHLIMIT, DEPTHLIMIT, HEAPLIMIT, and anything else:
	 * fail the value, closed. */
	return Match::too_costly;
}

template <typename Adapter>
bool check_pattern(const Adapter &target, bool strict, const std::string &pattern,
		   valijson::ValidationResults *results, const std::vector<std::string> &context)
{
	if ((strict && !target.isString()) || !target.maybeString())
		return true;
	Match m = pattern_search(pattern, target.asString());
	if (m == Match::yes)
		return true;
	if (results)
		results->pushError(context, m == Match::no
					     ? "value does not match the required pattern"
					     : "value is too costly to match against the pattern");
	return false;
}

bool date_in_range(int month, int day)
{
	static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return month >= 1 && month <= 12 && day >= 1 && day <= days[month - 1];
}

/* valijson's "format" check, on bounded input, for strings only (valijson
 * calls asString() on any type, which throws for a number). */
template <typename Adapter>
bool check_format(const Adapter &target, const std::string &format,
		  valijson::ValidationResults *results, const std::vector<std::string> &context)
{
	if (!target.isString())
		return true;
	if (format != "date" && format != "time" && format != "date-time")
		return true;
	const std::string s = target.asString();
	bool ok = false;
	if (s.size() <= MAX_FORMAT_INPUT) {
		static const std::string date = "([0-9]+)-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])";
		static const std::string time = "([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)"
						"(\\.[0-9]+)?(([Zz])|([\\+|\\-]([01][0-9]|2[0-3]):[0-5][0-9]))";
		std::smatch m;
		if (format == "date") {
			ok = std::regex_match(s, m, std::regex("^" + date + "$")) &&
			     date_in_range(std::stoi(m[2].str()), std::stoi(m[3].str()));
		} else if (format == "time") {
			ok = std::regex_match(s, std::regex("^" + time + "$"));
		} else {
			ok = std::regex_match(s, m, std::regex("^" + date + "[Tt]" + time + "$")) &&
			     date_in_range(std::stoi(m[2].str()), std::stoi(m[3].str()));
		}
	}
	if (!ok && results)
		results->pushError(context, "String should be a valid " + format);
	return ok;
}

} // namespace

/* The visitor members replaced for our adapters. They must be declared
 * before anything instantiates ValidationVisitor<JanssonAdapter>. */
namespace valijson {

using adapters::JanssonAdapter;
using adapters::StdStringAdapter;
typedef constraints::BasicConstraint<constraints::PropertiesConstraint>::String PropString;

template <>
bool ValidationVisitor<JanssonAdapter>::visit(const PatternConstraint &constraint)
{
	return check_pattern(m_target, m_strictTypes,
			     constraint.getPattern<std::string::allocator_type>(), m_results, m_context);
}

/* propertyNames validates each member name through a string adapter. */
template <>
bool ValidationVisitor<StdStringAdapter>::visit(const PatternConstraint &constraint)
{
	return check_pattern(m_target, m_strictTypes,
			     constraint.getPattern<std::string::allocator_type>(), m_results, m_context);
}

template <>
bool ValidationVisitor<JanssonAdapter>::visit(const FormatConstraint &constraint)
{
	return check_format(m_target, constraint.getFormat(), m_results, m_context);
}

template <>
bool ValidationVisitor<StdStringAdapter>::visit(const FormatConstraint &constraint)
{
	return check_format(m_target, constraint.getFormat(), m_results, m_context);
}

/* valijson's own loop, with PCRE2 in place of a std::regex built per call. */
template <>
template <>
bool ValidationVisitor<JanssonAdapter>::ValidatePatternPropertySubschemas::operator()
	<PropString>(const PropString &patternProperty, const Subschema *subschema) const
{
	const std::string pattern(patternProperty.c_str(), patternProperty.size());
	bool matchFound = false;
	for (const JanssonAdapter::ObjectMember m : m_object) {
		Match r = pattern_search(pattern, m.first);
		if (r == Match::no)
			continue;
		std::vector<std::string> newContext = m_context;
		newContext.push_back("[" + m.first + "]");
		if (r == Match::yes) {
			matchFound = true;
			if (m_propertiesMatched)
				m_propertiesMatched->insert(m.first);
			ValidationVisitor validator(m.second, newContext, m_strictTypes, m_results,
						    m_regexesCache);
			if (validator.validateSchema(*subschema))
				continue;
		} else if (m_results) {
			m_results->pushError(newContext, "member name is too costly to match "
							 "against the patternProperties pattern");
		}
		if (m_results)
			m_results->pushError(m_context, "Failed to validate against schema associated "
							"with pattern '" + pattern + "'.");
		if (m_validated)
			*m_validated = false;
		if (!m_continueOnFailure)
			return false;
	}
	if (!matchFound && !m_continueIfUnmatched)
		return false;
	return m_continueOnSuccess;
}

} // namespace valijson

struct ndx_schema {
	valijson::Schema schema;
	Patterns patterns;
};

namespace {

using valijson::adapters::JanssonAdapter;

/* A failure of our own before valijson runs: an NDX code and a reason. */
struct Refusal {
	int rc;
	std::string reason;
};

[[noreturn]] void refuse(const std::string &reason)
{
	throw Refusal{NDX_EINVAL, reason};
}

std::string pointer_token(const std::string &key)
{
	std::string out;
	out.reserve(key.size() + 1);
	out += '/';
	for (char c : key) {
		if (c == '~')
			out += "~0";
		else if (c == '/')
			out += "~1";
		else
			out += c;
	}
	return out;
}

/* valijson's context ("<root>", "[field]", "[0]") as an RFC 6901 pointer.
 * Member names are between the outer brackets as they are (they may hold
 * brackets themselves), so only the first and last character go. */
std::string context_pointer(const std::vector<std::string> &context)
{
	std::string out;
	for (size_t i = 0; i < context.size(); i++) {
		const std::string &part = context[i];
		if (i == 0 && part == "<root>")
			continue;
		if (part.size() >= 2 && part.front() == '[' && part.back() == ']')
			out += pointer_token(part.substr(1, part.size() - 2));
		else
			out += pointer_token(part);
	}
	return out;
}

/* --- the schema checks before valijson ------------------------------- */

void check_depth(const json_t *v, int depth, const std::string &where)
{
	if (!json_is_object(v) && !json_is_array(v))
		return;
	if (depth > NDX_SCHEMA_MAX_DEPTH)
		refuse("schema nests deeper than " + std::to_string(NDX_SCHEMA_MAX_DEPTH) + " at \"" +
		       where + "\"");
	if (json_is_object(v)) {
		const char *key;
		size_t klen;
		json_t *child;
		json_object_keylen_foreach(const_cast<json_t *>(v), key, klen, child)
			check_depth(child, depth + 1, where + pointer_token(std::string(key, klen)));
	} else {
		for (size_t i = 0; i < json_array_size(v); i++)
			check_depth(json_array_get(v, i), depth + 1, where + "/" + std::to_string(i));
	}
}

struct SizeCount {
	size_t bytes = 0;
};

int count_bytes(const char *, size_t size, void *data)
{
	SizeCount *c = static_cast<SizeCount *>(data);
	c->bytes += size;
	return c->bytes > NDX_SCHEMA_MAX_BYTES ? -1 : 0;
}

void check_size(const json_t *schema)
{
	SizeCount c;
	if (json_dump_callback(schema, count_bytes, &c, JSON_COMPACT) != 0) {
		if (c.bytes > NDX_SCHEMA_MAX_BYTES)
			refuse("schema is larger than " + std::to_string(NDX_SCHEMA_MAX_BYTES) +
			       " bytes when serialised");
		refuse("schema cannot be serialised");
	}
}

/* Every member named "$ref" with a string value, wherever it is: it must
 * be local ("#" or "#/..."). Counting them bounds valijson's recursion. */
void check_refs(const json_t *v, const std::string &where, size_t *count)
{
	if (json_is_object(v)) {
		const char *key;
		size_t klen;
		json_t *child;
		json_object_keylen_foreach(const_cast<json_t *>(v), key, klen, child)
		{
			std::string here = where + pointer_token(std::string(key, klen));
			if (klen == 4 && memcmp(key, "$ref", 4) == 0 && json_is_string(child)) {
				const char *ref = json_string_value(child);
				if (ref[0] != '#')
					refuse("\"$ref\" at \"" + here + "\" is not local (\"" + ref +
					       "\"): only references into the schema itself (\"#...\") "
					       "are allowed");
				if (ref[1] != '\0' && ref[1] != '/')
					refuse("\"$ref\" at \"" + here + "\" is not a JSON Pointer "
					       "fragment (\"#\" or \"#/...\")");
				if (++*count > NDX_SCHEMA_MAX_REFS)
					refuse("schema has more than " +
					       std::to_string(NDX_SCHEMA_MAX_REFS) + " \"$ref\"s");
			}
			check_refs(child, here, count);
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			check_refs(json_array_get(v, i), where + "/" + std::to_string(i), count);
	}
}

int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Resolves a local reference ("#", "#/a/b") in the schema the way valijson
 * does: trailing slashes dropped, %XX decoded, then ~1 and ~0. Returns NULL
 * when it does not resolve. */
const json_t *resolve_ref(const json_t *root, const std::string &ref)
{
	std::string ptr = ref.substr(1);
	ptr.erase(ptr.find_last_not_of('/') + 1);
	const json_t *at = root;
	size_t pos = 0;
	while (pos < ptr.size()) {
		size_t next = ptr.find('/', pos + 1);
		std::string raw = ptr.substr(pos + 1, next == std::string::npos ? std::string::npos
										 : next - pos - 1);
		std::string token;
		for (size_t i = 0; i < raw.size(); i++) {
			if (raw[i] == '%') {
				int hi = i + 2 < raw.size() ? hexval(raw[i + 1]) : -1;
				int lo = i + 2 < raw.size() ? hexval(raw[i + 2]) : -1;
				if (hi < 0 || lo < 0)
					return nullptr;
				token += static_cast<char>(hi * 16 + lo);
				i += 2;
			} else if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
				token += raw[i + 1] == '0' ? '~' : '/';
				i++;
			} else if (raw[i] == '~') {
				return nullptr;
			} else {
				token += raw[i];
			}
		}
		if (json_is_object(at)) {
			at = json_object_getn(at, token.data(), token.size());
		} else if (json_is_array(at)) {
			if (token.empty() || token.size() > 9 ||
			    token.find_first_not_of("0123456789") != std::string::npos ||
			    (token.size() > 1 && token[0] == '0'))
				return nullptr;
			at = json_array_get(at, std::stoul(token));
		} else {
			return nullptr;
		}
		if (!at)
			return nullptr;
		pos = next == std::string::npos ? ptr.size() : next;
	}
	return at;
}

/* The schema as a graph: each subschema a node; "in place" edges lead to
 * subschemas that apply to the same instance ($ref, allOf, anyOf, oneOf,
 * not, if, then, else, dependencies), the other edges descend into a part
 * of the instance. A cycle of in-place edges never ends. */
struct Walk {
	const json_t *root;
	std::unordered_map<const json_t *, std::string> where;            /* first pointer seen */
	std::unordered_map<const json_t *, std::vector<const json_t *>> inplace;
	std::vector<std::pair<std::string, std::string>> patterns;         /* pattern, where */
	std::vector<std::pair<const json_t *, std::string>> todo;

	void add(const json_t *from, const json_t *to, const std::string &at, bool in_place)
	{
		if (!json_is_object(to) && !json_is_boolean(to))
			refuse("\"" + at + "\" is not a schema (an object or a boolean)");
		if (in_place && json_is_object(to))
			inplace[from].push_back(to);
		todo.emplace_back(to, at);
	}

	void visit(const json_t *node, const std::string &at)
	{
		const json_t *ref = json_object_get(node, "$ref");
		if (ref) {
			if (!json_is_string(ref))
				refuse("\"$ref\" at \"" + at + "/$ref\" is not a string");
			const json_t *target = resolve_ref(root, json_string_value(ref));
			if (!target)
				refuse("\"$ref\" at \"" + at + "/$ref\" (\"" + json_string_value(ref) +
				       "\") does not resolve in the schema");
			/* valijson ignores a $ref's siblings, as draft 7 says. */
			add(node, target, at + "/$ref", true);
			return;
		}
		const char *key;
		size_t klen;
		json_t *v;
		json_object_keylen_foreach(const_cast<json_t *>(node), key, klen, v)
		{
			std::string k(key, klen);
			std::string here = at + pointer_token(k);
			if (k == "allOf" || k == "anyOf" || k == "oneOf") {
				if (!json_is_array(v))
					refuse("\"" + here + "\" is not an array");
				for (size_t i = 0; i < json_array_size(v); i++)
					add(node, json_array_get(v, i), here + "/" + std::to_string(i), true);
			} else if (k == "not" || k == "if" || k == "then" || k == "else") {
				add(node, v, here, true);
			} else if (k == "dependencies") {
				each_member(node, v, here, true, true);
			} else if (k == "properties" || k == "definitions") {
				each_member(node, v, here, false, false);
			} else if (k == "patternProperties") {
				each_member(node, v, here, false, false);
				const char *pk;
				size_t plen;
				json_t *pv;
				json_object_keylen_foreach(v, pk, plen, pv)
					patterns.emplace_back(std::string(pk, plen),
							      here + pointer_token(std::string(pk, plen)));
			} else if (k == "additionalProperties" || k == "additionalItems" ||
				   k == "contains" || k == "propertyNames") {
				add(node, v, here, false);
			} else if (k == "items") {
				if (json_is_array(v)) {
					for (size_t i = 0; i < json_array_size(v); i++)
						add(node, json_array_get(v, i),
						    here + "/" + std::to_string(i), false);
				} else {
					add(node, v, here, false);
				}
			} else if (k == "pattern" && json_is_string(v)) {
				patterns.emplace_back(std::string(json_string_value(v), json_string_length(v)),
						      here);
			}
		}
	}

	/* An object of schemas; with arrays_ok, array members (a dependency's
	 * property list) are skipped. */
	void each_member(const json_t *node, const json_t *map, const std::string &at,
			 bool in_place, bool arrays_ok)
	{
		if (!json_is_object(map))
			refuse("\"" + at + "\" is not an object");
		const char *key;
		size_t klen;
		json_t *v;
		json_object_keylen_foreach(const_cast<json_t *>(map), key, klen, v)
		{
			if (arrays_ok && json_is_array(v))
				continue;
			add(node, v, at + pointer_token(std::string(key, klen)), in_place);
		}
	}

	void run()
	{
		todo.emplace_back(root, "");
		while (!todo.empty()) {
			auto item = todo.back();
			todo.pop_back();
			if (!json_is_object(item.first) || where.count(item.first))
				continue;
			where.emplace(item.first, item.second);
			visit(item.first, item.second);
		}
		find_cycles();
	}

	/* Iterative depth-first search, white/grey/black. */
	void find_cycles()
	{
		enum { white, grey, black };
		std::unordered_map<const json_t *, int> colour;
		for (auto &start : where) {
			if (colour[start.first] != white)
				continue;
			std::vector<std::pair<const json_t *, size_t>> stack{{start.first, 0}};
			colour[start.first] = grey;
			while (!stack.empty()) {
				auto &top = stack.back();
				auto edges = inplace.find(top.first);
				if (edges == inplace.end() || top.second >= edges->second.size()) {
					colour[top.first] = black;
					stack.pop_back();
					continue;
				}
				const json_t *next = edges->second[top.second++];
				int c = colour[next];
				if (c == grey)
					refuse("schema at \"" + where[next] + "\" applies to the same "
					       "value again through $ref/allOf/anyOf/oneOf/not/if/then/"
					       "else/dependencies without descending into it: a cycle "
					       "that never ends");
				if (c == white) {
					colour[next] = grey;
					stack.emplace_back(next, 0);
				}
			}
		}
	}
};

void compile_patterns(const std::vector<std::pair<std::string, std::string>> &list, Patterns &p)
{
	p.mctx = pcre2_match_context_create(nullptr);
	if (!p.mctx)
		throw std::bad_alloc();
	pcre2_set_match_limit(p.mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(p.mctx, DEPTH_LIMIT);
	pcre2_set_heap_limit(p.mctx, HEAP_LIMIT_KIB);
	for (const auto &pat : list) {
		if (p.codes.count(pat.first))
			continue;
		if (pat.first.size() > NDX_SCHEMA_MAX_PATTERN)
			refuse("pattern at \"" + pat.second + "\" is longer than " +
			       std::to_string(NDX_SCHEMA_MAX_PATTERN) + " bytes");
		int code;
		PCRE2_SIZE offset;
		/* ECMA-262 flavour: \uXXXX escapes, $ only at the very end. */
		pcre2_code *re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.first.data()),
					       pat.first.size(),
					       PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY,
					       &code, &offset, nullptr);
		if (!re) {
			if (code == PCRE2_ERROR_NOMEMORY)
				throw std::bad_alloc();
			PCRE2_UCHAR msg[120];
			pcre2_get_error_message(code, msg, sizeof msg);
			refuse("pattern at \"" + pat.second + "\" does not compile at offset " +
			       std::to_string(offset) + ": " + reinterpret_cast<const char *>(msg));
		}
		try {
			p.codes.emplace(pat.first, re);
		} catch (...) {
			pcre2_code_free(re);
			throw;
		}
	}
}

/* --- validation -------------------------------------------------------- */

/* A document nesting deeper than NDX_SCHEMA_MAX_DOC_DEPTH, at where. */
struct TooDeep {
	std::string where;
};

void check_doc_depth(const json_t *v, int depth, const std::string &where)
{
	if (!json_is_object(v) && !json_is_array(v))
		return;
	if (depth > NDX_SCHEMA_MAX_DOC_DEPTH)
		throw TooDeep{where};
	if (json_is_object(v)) {
		const char *key;
		size_t klen;
		json_t *child;
		json_object_keylen_foreach(const_cast<json_t *>(v), key, klen, child)
			check_doc_depth(child, depth + 1, where + pointer_token(std::string(key, klen)));
	} else {
		for (size_t i = 0; i < json_array_size(v); i++)
			check_doc_depth(json_array_get(v, i), depth + 1, where + "/" + std::to_string(i));
	}
}

/* Sets the thread's current patterns for one validation and restores the
 * previous ones (a validation inside a validation cannot happen, but an
 * exception must not leave a dangling pointer behind). */
struct PatternScope {
	const Patterns *saved;
	explicit PatternScope(const Patterns *p) : saved(tl_patterns) { tl_patterns = p; }
	~PatternScope() { tl_patterns = saved; }
	PatternScope(const PatternScope &) = delete;
	PatternScope &operator=(const PatternScope &) = delete;
};

const char ADDITIONAL_PREFIX[] = "Object contains a property that could not be validated using "
				 "'properties' or 'additionalProperties' constraints: '";

/* The first error as (pointer, reason). An extra member refused by
 * "additionalProperties": false is reported at the member itself. */
std::pair<std::string, std::string> first_error(const valijson::ValidationResults &results)
{
	if (results.numErrors() == 0)
		return {"", "value does not match the schema"};
	const auto &e = *results.begin();
	std::string ptr = context_pointer(e.context);
	const std::string &d = e.description;
	const size_t plen = sizeof ADDITIONAL_PREFIX - 1;
	if (d.size() >= plen + 2 && d.compare(0, plen, ADDITIONAL_PREFIX) == 0 &&
	    d.compare(d.size() - 2, 2, "'.") == 0)
		return {ptr + pointer_token(d.substr(plen, d.size() - plen - 2)),
			"member is not allowed (additionalProperties)"};
	return {ptr, d};
}

int validate(const ndx_schema *s, const json_t *doc, std::string *ptr, std::string *reason)
{
	check_doc_depth(doc, 1, "");
	PatternScope scope(&s->patterns);
	JanssonAdapter target(doc);
	{
		valijson::Validator fast;
		if (fast.validate(s->schema, target, nullptr))
			return NDX_OK;
	}
	/* Invalid: again, collecting errors, to name the first. */
	valijson::Validator v;
	valijson::ValidationResults results;
	if (v.validate(s->schema, target, &results))
		return NDX_OK; /* cannot differ; trust the collecting run */
	auto first = first_error(results);
	*ptr = std::move(first.first);
	*reason = std::move(first.second);
	return NDX_EINVAL;
}

void copy_out(char *buf, size_t cap, const std::string &s)
{
	if (buf && cap)
		snprintf(buf, cap, "%s", s.c_str());
}

} // namespace

extern "C" int ndx_schema_compile(const json_t *schema, struct ndx_schema **out, char *err,
				  size_t errcap)
{
	assert(out);
	*out = nullptr;
	try {
		if (!json_is_object(schema))
			refuse("schema is not a JSON object");
		check_depth(schema, 1, "");
		check_size(schema);
		size_t refs = 0;
		check_refs(schema, "", &refs);
		Walk walk;
		walk.root = schema;
		walk.run();
		std::unique_ptr<ndx_schema> s(new ndx_schema);
		compile_patterns(walk.patterns, s->patterns);
		/* No fetch callback: valijson cannot fetch anything. */
		valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
		try {
			parser.populateSchema(JanssonAdapter(schema), s->schema);
		} catch (const std::bad_alloc &) {
			throw;
		} catch (const std::exception &e) {
			refuse(std::string("schema is not usable: ") + e.what());
		}
		*out = s.release();
		return NDX_OK;
	} catch (const Refusal &r) {
		return ndx_fail(err, errcap, r.rc, "%s", r.reason.c_str());
	} catch (const std::bad_alloc &) {
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory compiling the schema");
	} catch (const std::exception &e) {
		return ndx_fail(err, errcap, NDX_EINVAL, "schema is not usable: %s", e.what());
	} catch (...) {
		return ndx_fail(err, errcap, NDX_EINVAL, "schema is not usable");
	}
}

extern "C" int ndx_schema_validate_path(const struct ndx_schema *s, const json_t *doc,
				       char *path, size_t pathcap, char *err,
				       size_t errcap)
{
	assert(s);
	copy_out(path, pathcap, "");
	if (!doc)
		return ndx_fail(err, errcap, NDX_EINVAL, ": no document");
	try {
		std::string ptr, reason;
		int rc = validate(s, doc, &ptr, &reason);
		if (rc == NDX_OK)
			return NDX_OK;
		copy_out(path, pathcap, ptr);
		return ndx_fail(err, errcap, rc, "%s: %s", ptr.c_str(), reason.c_str());
	} catch (const TooDeep &d) {
		copy_out(path, pathcap, d.where);
		return ndx_fail(err, errcap, NDX_EINVAL, "%s: value nests deeper than %d",
				d.where.c_str(), NDX_SCHEMA_MAX_DOC_DEPTH);
	} catch (const std::bad_alloc &) {
		return ndx_fail(err, errcap, NDX_ENOMEM, ": out of memory validating the document");
	} catch (const std::exception &e) {
		return ndx_fail(err, errcap, NDX_EINVAL, ": cannot validate the document: %s", e.what());
	} catch (...) {
		return ndx_fail(err, errcap, NDX_EINVAL, ": cannot validate the document");
	}
}

extern "C" int ndx_schema_validate(const struct ndx_schema *s, const json_t *doc, char *err,
				  size_t errcap)
{
	return ndx_schema_validate_path(s, doc, nullptr, 0, err, errcap);
}

extern "C" void ndx_schema_free(struct ndx_schema *s)
{
	delete s;
}
