#include "muster/proto/stanza.hpp"

#include <cstring>

#include "muster/proto/messages.hpp"

namespace muster::proto {
namespace {

constexpr const char* kStanzaErrorNs = "urn:ietf:params:xml:ns:xmpp-stanzas";

xmpp_stanza_t* new_child(xmpp_ctx_t* ctx, xmpp_stanza_t* parent, const char* name, const char* ns) {
  xmpp_stanza_t* child = xmpp_stanza_new(ctx);
  xmpp_stanza_set_name(child, name);
  if (ns != nullptr) xmpp_stanza_set_ns(child, ns);
  xmpp_stanza_add_child(parent, child);
  xmpp_stanza_release(child);  // the parent holds it now
  return child;
}

void add_text(xmpp_ctx_t* ctx, xmpp_stanza_t* parent, const std::string& text) {
  xmpp_stanza_t* node = xmpp_stanza_new(ctx);
  xmpp_stanza_set_text_with_size(node, text.data(), text.size());
  xmpp_stanza_add_child(parent, node);
  xmpp_stanza_release(node);
}

void add_payload(xmpp_ctx_t* ctx, xmpp_stanza_t* stanza, const char* element, const std::string& json) {
  add_text(ctx, new_child(ctx, stanza, element, kNamespace), json);
}

}  // namespace

StanzaRef make_payload_iq(xmpp_ctx_t* ctx, const char* type, const std::string& id, const std::string& to,
                          const char* element, const std::string& json) {
  StanzaRef iq(xmpp_iq_new(ctx, type, id.c_str()));
  xmpp_stanza_set_to(iq.get(), to.c_str());
  add_payload(ctx, iq.get(), element, json);
  return iq;
}

StanzaRef make_payload_message(xmpp_ctx_t* ctx, const std::string& to, const char* element, const std::string& json) {
  StanzaRef message(xmpp_message_new(ctx, nullptr, to.c_str(), nullptr));
  add_payload(ctx, message.get(), element, json);
  return message;
}

StanzaRef make_facts_presence(xmpp_ctx_t* ctx, const std::string& to, const std::string& json) {
  StanzaRef presence(xmpp_presence_new(ctx));
  xmpp_stanza_set_to(presence.get(), to.c_str());
  add_payload(ctx, presence.get(), kFactsElement, json);
  return presence;
}

StanzaRef make_iq_result(xmpp_ctx_t* ctx, const std::string& id, const std::string& to) {
  StanzaRef iq(xmpp_iq_new(ctx, "result", id.c_str()));
  xmpp_stanza_set_to(iq.get(), to.c_str());
  return iq;
}

StanzaRef make_iq_error(xmpp_ctx_t* ctx, const std::string& id, const std::string& to, const char* error_type,
                        const char* condition, const std::string& text) {
  StanzaRef iq(xmpp_iq_new(ctx, "error", id.c_str()));
  xmpp_stanza_set_to(iq.get(), to.c_str());
  xmpp_stanza_t* error = new_child(ctx, iq.get(), "error", nullptr);
  xmpp_stanza_set_type(error, error_type);
  new_child(ctx, error, condition, kStanzaErrorNs);
  add_text(ctx, new_child(ctx, error, "text", kStanzaErrorNs), text);
  return iq;
}

std::optional<std::string> payload_text(xmpp_stanza_t* stanza, const char* element) {
  xmpp_stanza_t* child = xmpp_stanza_get_child_by_name_and_ns(stanza, element, kNamespace);
  if (child == nullptr) return std::nullopt;
  char* text = xmpp_stanza_get_text(child);
  if (text == nullptr) return std::string();
  std::string out(text);
  xmpp_free(xmpp_stanza_get_context(stanza), text);
  return out;
}

std::string attribute(xmpp_stanza_t* stanza, const char* name) {
  const char* value = xmpp_stanza_get_attribute(stanza, name);
  return value != nullptr ? value : "";
}

std::string error_description(xmpp_stanza_t* stanza) {
  xmpp_stanza_t* error = xmpp_stanza_get_child_by_name(stanza, "error");
  if (error == nullptr) return "error without details";
  std::string condition = "undefined-condition";
  std::string text;
  for (xmpp_stanza_t* c = xmpp_stanza_get_children(error); c != nullptr; c = xmpp_stanza_get_next(c)) {
    const char* name = xmpp_stanza_get_name(c);
    if (name == nullptr) continue;
    if (std::strcmp(name, "text") == 0) {
      char* t = xmpp_stanza_get_text(c);
      if (t != nullptr) {
        text = t;
        xmpp_free(xmpp_stanza_get_context(stanza), t);
      }
    } else {
      condition = name;
    }
  }
  return text.empty() ? condition : condition + ": " + text;
}

}  // namespace muster::proto
