/* Installed-tree consumer: loads stories260K through the C API, prints its info, greedy text and
 * a perplexity, and checks that a bad path fails with a message. Exit 0 only when all hold. */
#include <dcllm/dcllm.h>
#include <stdio.h>
#include <string.h>

static int streamed_tokens = 0;

static int on_token(void* user_data, int32_t token, const char* piece, size_t piece_len) {
  (void)user_data;
  (void)token;
  (void)piece;
  (void)piece_len;
  ++streamed_tokens;
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: consumer MODEL.bin TOKENIZER.bin\n");
    return 2;
  }
  printf("dcllm %s (header %s)\n", dcllm_version(), DCLLM_VERSION_STRING);
  if (dcllm_version_number() != DCLLM_VERSION_NUMBER) {
    fprintf(stderr, "library and header versions differ\n");
    return 1;
  }

  dcllm_model* bad = NULL;
  dcllm_status st = dcllm_model_load("/nonexistent/model.gguf", NULL, &bad);
  if (st == DCLLM_OK || bad != NULL || strlen(dcllm_last_error()) == 0) {
    fprintf(stderr, "loading a missing file did not fail with a message\n");
    return 1;
  }
  printf("missing file: %s: %s\n", dcllm_status_string(st), dcllm_last_error());

  dcllm_load_params lp = dcllm_load_params_default();
  lp.tokenizer_path = argv[2];
  lp.threads = 1;
  dcllm_model* model = NULL;
  st = dcllm_model_load(argv[1], &lp, &model);
  if (st != DCLLM_OK) {
    fprintf(stderr, "load: %s\n", dcllm_last_error());
    return 1;
  }
  dcllm_model_info info;
  if (dcllm_model_get_info(model, &info) != DCLLM_OK) return 1;
  printf("%s: %s, %s, vocab %lld, layers %lld, %lld parameters\n", info.path, info.format,
         info.architecture, (long long)info.vocab_size, (long long)info.n_layers,
         (long long)info.parameters);

  dcllm_generate_params gp = dcllm_generate_params_default();
  gp.max_tokens = 30;
  gp.temperature = 0.0f;
  gp.on_token = on_token;
  char text[4096];
  size_t len = 0;
  st = dcllm_generate(model, "", 0, &gp, text, sizeof text, &len, NULL);
  if (st != DCLLM_OK || streamed_tokens != 30) {
    fprintf(stderr, "generate: %s (%d tokens streamed)\n", dcllm_last_error(), streamed_tokens);
    return 1;
  }
  printf("text: %s\n", text);

  static const char kText[] =
      "Once upon a time, there was a little girl named Lily. She loved to play outside.";
  dcllm_perplexity_result pr;
  st = dcllm_perplexity(model, kText, sizeof kText - 1, NULL, &pr);
  if (st != DCLLM_OK || !(pr.ppl > 1.0)) {
    fprintf(stderr, "perplexity: %s\n", dcllm_last_error());
    return 1;
  }
  printf("ppl %.4f over %lld tokens\n", pr.ppl, (long long)pr.tokens);
  dcllm_model_free(model);
  return 0;
}
